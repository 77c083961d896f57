"""What /proc says about processes, and signalling process groups (Linux; stdlib only).

    start_time(pid)                 # clock ticks since boot: with the PID, guards against reuse
    is_running(pid, started)        # alive, not a zombie, and the same process as recorded
    pids_with_env("GAMEDAY_RUN_DIR", run_dir)   # every process of a run, however it started
    stop_groups([pgid, ...], grace=10)          # SIGTERM, then SIGKILL; the PIDs that survive

Kept free of gameday imports: the watchdog (`chaos.watchdog`) runs it in a process of its own
that must start fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

_POLL = 0.02


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) is in parentheses and may hold spaces: split after the last ')'
    return [
        str(pid),
        raw[raw.index("(") + 1 : raw.rindex(")")],
        *raw[raw.rindex(")") + 2 :].split(),
    ]


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), None when it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[21]) if fields else None


def process_group(pid: int) -> int | None:
    """The process group of `pid`, None when it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[4]) if fields else None


def is_running(pid: int, started: int | None = None) -> bool:
    """True when `pid` exists, is not a zombie and (if given) started at `started`."""
    fields = _stat_fields(pid)
    if fields is None or fields[2] in ("Z", "X"):
        return False
    return started is None or int(fields[21]) == started


def all_pids() -> Iterator[int]:
    """Every PID in /proc."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    members = []
    for pid in all_pids():
        fields = _stat_fields(pid)
        if fields and fields[4] == str(pgid) and fields[2] not in ("Z", "X"):
            members.append(pid)
    return members


def pids_with_env(name: str, value: str) -> list[int]:
    """Live processes whose environment holds `name=value` (ours only: others are unreadable)."""
    return pids_by_env(name).get(value, [])


def pids_by_env(name: str) -> dict[str, list[int]]:
    """Live processes by the value of their `name` variable, in one pass over /proc."""
    prefix = f"{name}=".encode()
    found: dict[str, list[int]] = {}
    for pid in all_pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(prefix):
                if is_running(pid):
                    found.setdefault(item[len(prefix) :].decode(errors="replace"), []).append(pid)
                break
    return found


def kill_group(pgid: int, sig: int) -> None:
    """Send `sig` to a process group; a group that is gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(pgids: list[int], grace: float) -> list[int]:
    """SIGTERM (+SIGCONT) each group, SIGKILL what is left after `grace`; the PIDs surviving."""
    for pgid in pgids:
        kill_group(pgid, signal.SIGTERM)
        kill_group(pgid, signal.SIGCONT)  # a stopped process handles SIGTERM only once resumed
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_members(g) for g in pgids):
        time.sleep(_POLL)
    for pgid in pgids:
        kill_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    left = [pid for g in pgids for pid in group_members(g)]
    while left and time.monotonic() < deadline:
        time.sleep(_POLL)
        left = [pid for g in pgids for pid in group_members(g)]
    return left
