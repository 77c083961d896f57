"""What runs, seen independently of chaos.runtime: `ps` for the process table, /proc for env."""

from __future__ import annotations

import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    stat: str


def table() -> dict[int, Proc]:
    """Every live (non-zombie) process, by PID."""
    out = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,pgid=,stat="], capture_output=True, text=True, check=True
    ).stdout
    procs = {}
    for line in out.splitlines():
        pid, ppid, pgid, stat = line.split()[:4]
        if not stat.startswith("Z"):
            procs[int(pid)] = Proc(int(pid), int(ppid), int(pgid), stat)
    return procs


def descendants(root: int) -> set[int]:
    """`root` and every live process below it."""
    procs = table()
    found = {root} if root in procs else set()
    grew = True
    while grew:
        more = {p.pid for p in procs.values() if p.ppid in found} - found
        found |= more
        grew = bool(more)
    return found


def with_run_dir(run_dir: Path | str) -> set[int]:
    """Live processes whose environment says GAMEDAY_RUN_DIR=run_dir."""
    wanted = f"GAMEDAY_RUN_DIR={run_dir}".encode()
    found = set()
    for pid in table():
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in env:
            found.add(pid)
    return found


def alive(pids: Collection[int], pgids: Collection[int] = ()) -> set[int]:
    """Which of `pids` still run, plus any live process in one of `pgids`."""
    procs = table()
    return {p for p in pids if p in procs} | {p.pid for p in procs.values() if p.pgid in pgids}
