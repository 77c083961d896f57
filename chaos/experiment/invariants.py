"""The invariants command of a system or experiment (e.g. the shop's audit).

It gets every service's direct URLs as `<SERVICE>_URLS`, the run directory as GAMEDAY_RUN_DIR,
the topology as GAMEDAY_TOPOLOGY and the system run's secret as GAMEDAY_RUN_SECRET (see
chaos/runtime/secret.py); `{python}` and `{run_dir}` in the command are replaced.
Exit code 0 means the invariants hold.

When the command prints a JSON document on standard output with a `violations` list, each
violation's `invariant`, `entity` (`{"kind": "order", "id": "3f2a"}` or a string) and
`detail` are read, so verdicts can name what broke and where:

    {"violations": [{"invariant": "order_settled", "entity": {"kind": "order", "id": "3f2a"},
                     "detail": "pending at step charge"}]}
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chaos.runtime.secret import SECRET_ENV, read_secret
from chaos.system.model import Invariants, env_name
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
    violations: tuple[str, ...] = ()  # "invariant (kind id): detail", from its JSON report

    @property
    def passed(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0

    def summary(self) -> str:
        """The violations, or the last line of the output when they are not known."""
        if self.violations:
            more = len(self.violations) - 3
            return "; ".join(self.violations[:3]) + (f" (+{more} more)" if more > 0 else "")
        lines = [line for line in self.output.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit {self.exit_code}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "passed": self.passed,
            "violations": list(self.violations),
            "output": self.output[-4000:],
        }


def violations_of(stdout: str) -> tuple[str, ...]:
    """`invariant (kind id): detail` per violation of a JSON report; () when there is none."""
    try:
        report = json.loads(stdout)
    except ValueError:
        return ()
    found = report.get("violations") if isinstance(report, dict) else None
    if not isinstance(found, list):
        return ()
    lines = []
    for item in found:
        if not isinstance(item, dict):
            continue
        entity = item.get("entity")
        if isinstance(entity, dict):
            entity = f"{entity.get('kind', '')} {entity.get('id', '')}".strip()
        where = f" ({entity})" if entity else ""
        detail = f": {item['detail']}" if item.get("detail") else ""
        lines.append(f"{item.get('invariant', 'invariant')}{where}{detail}")
    return tuple(lines)


def run_invariants(
    invariants: Invariants, system: HasServices, run_dir: Path, *, under_load: bool = False
) -> InvariantResult:
    """Run the invariants command with every service's direct URLs in its environment.

    `under_load`: load still runs, so the `under_load` command is used when there is one.
    """
    raw = (invariants.under_load if under_load else None) or invariants.command
    command = raw.replace("{python}", shlex.quote(sys.executable))
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
            timeout=invariants.timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        output = (
            (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        )
        return InvariantResult(
            command, None, f"timed out after {invariants.timeout:.0f}s\n{output}"
        )
    except OSError as exc:
        return InvariantResult(command, None, f"could not run: {exc}")
    return InvariantResult(
        command, done.returncode, done.stdout + done.stderr, violations_of(done.stdout)
    )
