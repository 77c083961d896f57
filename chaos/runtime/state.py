"""The state file of a detached run (`.gameday/current.json`) and stopping what it names.

The supervisor of `gameday up` rewrites the file after every event:

    {"version": 1, "status": "starting|running",
     "supervisor": {"pid": 4242, "start_time": 123456},
     "system": "shop", "system_file": "/abs/system.yaml", "run_dir": "/abs/.gameday/runs/...",
     "toxiproxy": "http://127.0.0.1:PORT", "prometheus": "http://127.0.0.1:PORT" | null,
     "processes": [{"service", "replica", "role", "pid", "start_time", "port", "url",
                    "health", "state", "restarts", "log"}, ...],
     "proxies": [{"name", "listen", "upstream", "url"}, ...], "updated": 1732240000.0}

Each PID is its own process group (`start_new_session`). `start_time` guards against PID
reuse. Every child also carries GAMEDAY_RUN_DIR in its environment, so `gameday down` finds
processes started after the last write too.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.errors import RuntimeFailure
from chaos.runtime.process import is_running, pids_with_env, process_group, stop_groups

STATE_FILE = Path(".gameday") / "current.json"
VERSION = 1


def write_state(path: Path, state: Mapping[str, Any]) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_text(json.dumps({"version": VERSION, **state}, indent=2) + "\n")
    scratch.replace(path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state file's content, None when there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise RuntimeFailure(
            f"{path} is not valid JSON ({exc}); stop leftovers with `gameday down --run-dir DIR` "
            f"and delete {path}"
        ) from exc
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise RuntimeFailure(f"{path} was not written by this gameday; delete it")
    return state


def supervisor_alive(state: Mapping[str, Any]) -> bool:
    """True while the supervisor process named in `state` runs."""
    supervisor = state.get("supervisor") or {}
    pid = supervisor.get("pid")
    return isinstance(pid, int) and is_running(pid, supervisor.get("start_time"))


def owned_by(path: Path, pid: int) -> bool:
    """True when the state file at `path` names `pid` as its supervisor."""
    try:
        state = read_state(path)
    except RuntimeFailure:
        return False
    return state is not None and (state.get("supervisor") or {}).get("pid") == pid


def leftovers(state: Mapping[str, Any]) -> list[int]:
    """Live PIDs of the run: recorded ones (same start time) and any carrying its run dir."""
    found: set[int] = set()
    for row in state.get("processes") or ():
        pid, started = row.get("pid"), row.get("start_time")
        if isinstance(pid, int) and is_running(pid, started):
            found.add(pid)
    run_dir = state.get("run_dir")
    if isinstance(run_dir, str):
        found.update(pids_with_env("GAMEDAY_RUN_DIR", run_dir))
    return sorted(found)


def stop_run(state: Mapping[str, Any], grace: float) -> tuple[list[int], list[int]]:
    """Stop the supervisor, then anything of the run still alive: (stopped PIDs, survivors)."""
    before = set(leftovers(state))
    supervisor = state.get("supervisor") or {}
    pid = supervisor.get("pid")
    if isinstance(pid, int) and supervisor_alive(state):
        before.add(pid)
        os.kill(pid, signal.SIGTERM)  # it stops its children in order
        os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 3 * grace + 5
        while is_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)
    rest = leftovers(state)
    mine = os.getpgrp()
    groups = sorted(
        {g for g in map(process_group, rest) if g is not None and g not in (0, 1, mine)}
    )
    survivors = stop_groups(groups, grace) if groups else []
    survivors += [p for p in leftovers(state) if p not in survivors]
    if isinstance(pid, int) and is_running(pid, supervisor.get("start_time")):
        survivors.append(pid)
    return sorted(before - set(survivors)), sorted(set(survivors))
