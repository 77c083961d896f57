"""What a run's processes start with: free ports, the environment, the programs checked
before anything starts, and the embedded fault proxy's own process.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from chaos.errors import ConfigInvalid, RuntimeFailure
from chaos.net import LOOPBACK, free_port
from chaos.system.model import SystemSpec
from chaos.system.topology import ProcessPlan, Topology

PROXY_NAME = "gameday-proxy"
RUNS_ROOT = Path(".gameday") / "runs"


class PortAllocator:
    """Free loopback ports, never the same one twice in a run."""

    def __init__(self, pick: Callable[[], int] = free_port) -> None:
        self.pick = pick
        self.given: set[int] = set()

    def __call__(self) -> int:
        for _ in range(200):
            port = self.pick()
            if port not in self.given:
                self.given.add(port)
                return port
        raise RuntimeFailure("could not find a free loopback port that was not handed out yet")


def default_run_dir(system: str) -> Path:
    """`.gameday/runs/<system>-<UTC time>-<pid>` under the current directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return RUNS_ROOT / f"{system}-{stamp}-{os.getpid()}"


def base_env(root: str) -> dict[str, str]:
    """This process's environment for children: venv bin/ first on PATH, root on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEDAY_")}
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = os.pathsep.join(p for p in (scripts, env.get("PATH", "")) if p)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def check_programs(spec: SystemSpec, topology: Topology, env: Mapping[str, str]) -> None:
    """ConfigInvalid when a command's program cannot be found (before anything starts)."""
    checked: set[str] = set()
    for plan in topology.processes:
        if plan.service in checked:
            continue
        checked.add(plan.service)
        program = plan.argv[0]
        where = os.path.join(topology.root, program) if "/" in program else None
        found = (
            os.access(where, os.X_OK)
            if where is not None
            else shutil.which(program, path=env.get("PATH")) is not None
        )
        if not found:
            component = spec.component(plan.service)
            raise ConfigInvalid(
                f"{component.where}: {component.section}.command runs {program!r}, which "
                f"{'is not an executable file' if where else 'is not on PATH'}; install it "
                "(commands run with the virtualenv's bin/ first on PATH) or fix the command"
            )


def proxy_plan(run_dir: Path, port: int) -> ProcessPlan:
    """The embedded fault proxy (`gameday proxy`) of a run, on a fixed port across restarts."""
    return ProcessPlan(
        service=PROXY_NAME,
        replica=0,
        infrastructure=True,
        port=port,
        argv=(
            sys.executable,
            "-m",
            "chaos.cli",
            "proxy",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--proxy-metrics",
        ),
        env={"GAMEDAY_RUN_DIR": str(run_dir)},
        health="/version",
        scheme="http",
        data_dir=str(run_dir / "data" / PROXY_NAME),
        log=str(run_dir / "logs" / f"{PROXY_NAME}-0.log"),
        metrics="/metrics",
    )
