"""Prometheus for a run: the file_sd targets file, a scrape config, and the process to run.

    <run dir>/prometheus/targets.json     file_sd groups, one per replica serving /metrics
    <run dir>/prometheus/extra/*.json     more file_sd groups (e.g. the experiment's exporter)
    <run dir>/prometheus/prometheus.yml   scrapes them every second (refreshes the files too)
    <run dir>/prometheus/data/            its TSDB

A real Prometheus is started only when asked (`gameday up --prometheus`) and found on PATH.
It runs in the *game-day profile*: scrapes and rule evaluations every second, exemplar
storage on (`--enable-feature=exemplar-storage`: the trace ids the services attach to their
histogram buckets are kept and served by /api/v1/query_exemplars), and the rule files of
`dashboards/rules/gameday/` in the system's project root when there are some — the SLO and
cause alerts with every window scaled down 120 times (docs/dashboards.md).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
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


GAMEDAY_RULES = Path("dashboards") / "rules" / "gameday"
EXEMPLARS = "--enable-feature=exemplar-storage"


def extra_targets_dir(run_dir: Path) -> Path:
    """Where other file_sd groups of a run go (one JSON file each; watched by Prometheus)."""
    return run_dir / "prometheus" / "extra"


def game_day_rules(project_root: Path) -> list[Path]:
    """The game-day rule files of a project (`dashboards/rules/gameday/*.rules.yml`), if any."""
    return sorted((project_root / GAMEDAY_RULES).glob("*.rules.yml"))


def render_config(
    targets_file: Path, interval_s: float = 1.0, rule_files: Sequence[Path] = ()
) -> str:
    """A prometheus.yml scraping the file_sd targets and evaluating rules every `interval_s`."""
    every = f"{int(interval_s * 1000)}ms"
    extra = targets_file.parent / "extra" / "*.json"
    config: dict[str, Any] = {
        "global": {"scrape_interval": every, "scrape_timeout": every, "evaluation_interval": every},
        "scrape_configs": [
            {
                "job_name": "gameday",
                "file_sd_configs": [
                    {"files": [str(targets_file), str(extra)], "refresh_interval": "1s"}
                ],
            }
        ],
    }
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    return yaml.safe_dump(config, sort_keys=False)


def find_binary() -> str:
    """The prometheus binary on PATH; RuntimeFailure with an install hint when missing."""
    found = shutil.which("prometheus")
    if found is None:
        raise RuntimeFailure(f"--prometheus: no prometheus binary on PATH; {INSTALL_HINT}")
    return found


def plan(binary: str, run_dir: Path, port: int, rules: Sequence[Path] = ()) -> ProcessPlan:
    """The Prometheus process: config and data in the run directory, bound to loopback."""
    folder = run_dir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    extra_targets_dir(run_dir).mkdir(exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(render_config(targets_path(run_dir), rule_files=rules))
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
            EXEMPLARS,
            "--log.level=warn",
        ),
        env={"GAMEDAY_RUN_DIR": str(run_dir)},
        health="/-/ready",
        scheme="http",
        data_dir=str(folder / "data"),
        log=str(run_dir / "logs" / f"{NAME}-0.log"),
        metrics=None,
    )
