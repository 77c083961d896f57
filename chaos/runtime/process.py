"""One child process of a system, in its own process group (its own session).

    child = Child(plan)
    child.spawn(env, cwd=root)          # own session: signals reach the whole group
    child.signal(signal.SIGSTOP)        # pause every process of the group
    stop_groups([child.pid], grace=10)  # SIGTERM, then SIGKILL; returns once the group is gone

`start_time` (clock ticks since boot, /proc/PID/stat field 22) is recorded with every PID so
that a later `gameday down` never signals a PID the kernel has since given to someone else.
The /proc helpers live in `chaos.procfs` (re-exported here).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from chaos.errors import RuntimeFailure
from chaos.procfs import (
    all_pids,
    group_members,
    is_running,
    kill_group,
    pids_with_env,
    process_group,
    start_time,
    stop_groups,
)
from chaos.system.topology import ProcessPlan

__all__ = [
    "Child",
    "all_pids",
    "group_members",
    "is_running",
    "kill_group",
    "pids_with_env",
    "process_group",
    "start_time",
    "stop_groups",
    "tail",
]


def tail(path: str | os.PathLike[str], lines: int = 20) -> str:
    """The last `lines` lines of a text file, indented; '(empty)' when there is nothing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "    (no log)"
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept) if kept else "    (empty)"


class Child:
    """A process of the system; one `spawn` per life (the supervisor spawns it again)."""

    def __init__(self, plan: ProcessPlan) -> None:
        self.plan = plan
        self.popen: subprocess.Popen[bytes] | None = None
        self.started: int | None = None

    def __repr__(self) -> str:
        return f"Child({self.plan.key}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        """The PID of the current life (also its process group), None before the first spawn."""
        return self.popen.pid if self.popen is not None else None

    def spawn(self, env: Mapping[str, str], cwd: str) -> int:
        """Start the command in a new session, output appended to the plan's log; its PID."""
        Path(self.plan.log).parent.mkdir(parents=True, exist_ok=True)
        Path(self.plan.data_dir).mkdir(parents=True, exist_ok=True)
        with open(self.plan.log, "ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            log.write(f"--- gameday: starting {self.plan.key} at {stamp}\n".encode())
            log.flush()
            try:
                self.popen = subprocess.Popen(
                    list(self.plan.argv),
                    env=dict(env),
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise RuntimeFailure(
                    f"cannot start {self.plan.key}: {' '.join(self.plan.argv)!r} failed: "
                    f"{exc.strerror}; check the command in the system file"
                ) from exc
        self.started = start_time(self.popen.pid)
        return self.popen.pid

    def exit_code(self) -> int | None:
        """The exit code once the current life has ended (negative: killed by that signal)."""
        return self.popen.poll() if self.popen is not None else None

    def alive(self) -> bool:
        """True while the current life runs (a paused process is alive)."""
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Send `sig` to the whole process group of the current life."""
        if self.popen is not None:
            kill_group(self.popen.pid, sig)

    def kill(self, timeout: float = 10.0) -> int | None:
        """SIGKILL the group and reap the leader; its exit code."""
        if self.popen is None:
            return None
        self.signal(signal.SIGKILL)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeFailure(f"{self.plan.key} (pid {self.pid}) survived SIGKILL") from exc

    def reap(self, timeout: float = 1.0) -> None:
        """Collect the exit status of a leader that has been stopped (no zombie left)."""
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
