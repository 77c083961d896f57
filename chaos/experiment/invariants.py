"""The invariants command of an experiment (e.g. the shop's audit), run after the recovery.

It gets every service's direct URLs as `<SERVICE>_URLS`, the run directory as GAMEDAY_RUN_DIR,
the topology as GAMEDAY_TOPOLOGY and the system run's secret as GAMEDAY_RUN_SECRET (see
chaos/runtime/secret.py); `{python}` and `{run_dir}` in the command are replaced.
Exit code 0 means the invariants hold.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chaos.experiment.model import Experiment
from chaos.runtime.secret import SECRET_ENV, read_secret
from chaos.system.model import env_name
from chaos.system.topology import Topology


class HasServices(Protocol):
    """A running or attached system: its topology and the direct URLs of its replicas."""

    topology: Topology

    def urls(self, service: str) -> list[str]: ...


@dataclass
class InvariantResult:
    """What the invariants command said."""

    command: str
    exit_code: int | None
    output: str

    @property
    def passed(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "passed": self.passed,
            "output": self.output[-4000:],
        }


def run_invariants(experiment: Experiment, system: HasServices, run_dir: Path) -> InvariantResult:
    """Run the invariants command with every service's direct URLs in its environment."""
    assert experiment.invariants is not None
    command = experiment.invariants.command.replace("{python}", shlex.quote(sys.executable))
    command = command.replace("{run_dir}", shlex.quote(str(run_dir)))
    env = {
        **os.environ,
        "GAMEDAY_RUN_DIR": str(run_dir),
        "GAMEDAY_TOPOLOGY": str(run_dir / "topology.json"),
    }
    for service in system.topology.services:
        env[f"{env_name(service)}_URLS"] = ",".join(system.urls(service))
    secret = read_secret(Path(system.topology.run_dir))
    if secret is not None:
        env[SECRET_ENV] = secret
    try:
        done = subprocess.run(
            shlex.split(command),
            env=env,
            cwd=system.topology.root,
            capture_output=True,
            text=True,
            timeout=experiment.invariants.timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        output = (
            (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        )
        return InvariantResult(
            command, None, f"timed out after {experiment.invariants.timeout:.0f}s\n{output}"
        )
    except OSError as exc:
        return InvariantResult(command, None, f"could not run: {exc}")
    return InvariantResult(command, done.returncode, done.stdout + done.stderr)
