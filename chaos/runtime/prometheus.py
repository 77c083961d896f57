"""Prometheus for a run: the file_sd targets file, a scrape config, and the process to run.

    <run dir>/prometheus/targets.json     file_sd groups, one per replica serving /metrics
    <run dir>/prometheus/prometheus.yml   scrapes them every second (refreshes the file too)
    <run dir>/prometheus/data/            its TSDB

A real Prometheus is started only when asked (`gameday up --prometheus`) and found on PATH.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from chaos.errors import RuntimeFailure
from chaos.net import LOOPBACK
from chaos.system.topology import ProcessPlan

NAME = "gameday-prometheus"
INSTALL_HINT = (
    "install Prometheus (Debian/Ubuntu: sudo apt-get install prometheus; or put the binary "
    "from prometheus.io/download on PATH), or leave out --prometheus"
)


def targets_path(run_dir: Path) -> Path:
    """Where the file_sd targets of a run are written."""
    return run_dir / "prometheus" / "targets.json"


def write_targets(run_dir: Path, groups: list[dict[str, Any]]) -> Path:
    """Write the file_sd target groups (atomically: Prometheus watches the file)."""
    path = targets_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(groups, indent=2) + "\n")
    scratch.replace(path)
    return path


def render_config(targets_file: Path, interval_s: float = 1.0) -> str:
    """A prometheus.yml scraping the file_sd targets every `interval_s` seconds."""
    every = f"{int(interval_s * 1000)}ms"
    config = {
        "global": {"scrape_interval": every, "scrape_timeout": every, "evaluation_interval": every},
        "scrape_configs": [
            {
                "job_name": "gameday",
                "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "5s"}],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def find_binary() -> str:
    """The prometheus binary on PATH; RuntimeFailure with an install hint when missing."""
    found = shutil.which("prometheus")
    if found is None:
        raise RuntimeFailure(f"--prometheus: no prometheus binary on PATH; {INSTALL_HINT}")
    return found


def plan(binary: str, run_dir: Path, port: int) -> ProcessPlan:
    """The Prometheus process: config and data in the run directory, bound to loopback."""
    folder = run_dir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(render_config(targets_path(run_dir)))
    return ProcessPlan(
        service=NAME,
        replica=0,
        infrastructure=True,
        port=port,
        argv=(
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--log.level=warn",
        ),
        env={"GAMEDAY_RUN_DIR": str(run_dir)},
        health="/-/ready",
        scheme="http",
        data_dir=str(folder / "data"),
        log=str(run_dir / "logs" / f"{NAME}-0.log"),
        metrics=None,
    )
