"""`gameday up`, `status` and `down` as real subprocesses: nothing may be left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.runtime import procs
from tests.chaos.runtime.conftest import SYSTEM, get
from tests.support import ROOT, gameday

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A working directory for `gameday`; whatever a failed test left running is stopped."""
    yield tmp_path
    if (tmp_path / ".gameday" / "current.json").exists():
        gameday(tmp_path, "down", "--grace", "5")


def state_of(cwd: Path) -> dict[str, Any]:
    return dict(json.loads((cwd / ".gameday" / "current.json").read_text()))


def wait_running(cwd: Path, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = state_of(cwd)
        except (OSError, ValueError):
            state = {}
        if state.get("status") == "running":
            return state
        time.sleep(0.05)
    raise AssertionError(f"no running state file in {cwd} after {timeout}s")


def everything_of(state: dict[str, Any]) -> tuple[set[int], set[int]]:
    """(PIDs, process groups) of a run: the supervisor's tree, the state file, the run dir."""
    supervisor = state["supervisor"]["pid"]
    recorded = {p["pid"] for p in state["processes"] if p["pid"] is not None}
    pids = procs.descendants(supervisor) | recorded | procs.with_run_dir(state["run_dir"])
    table = procs.table()
    groups = {table[p].pgid for p in pids if p in table} - {os.getpgrp()}  # --foreground: ours
    return pids, groups


def test_up_status_down_leave_no_process_behind(workdir: Path) -> None:
    up = gameday(workdir, "up", str(SYSTEM), "--replicas", "backend=3")
    assert up.returncode == 0, up.stderr
    assert "front.backend.2" in up.stdout and "gameday down" in up.stdout
    state = state_of(workdir)
    assert (
        state["status"] == "running"
        and Path(state["run_dir"]).parent == workdir / ".gameday" / "runs"
    )
    pids, groups = everything_of(state)
    assert len([p for p in state["processes"] if p["service"] == "backend"]) == 3
    assert len(groups) >= 7  # supervisor, fault proxy, nats, 3 backends, front: one group each
    front = next(p for p in state["processes"] if p["service"] == "front")
    assert get(front["url"] + "/call")[0] == 200

    status = gameday(workdir, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" yes ") == 6 and "HEALTHY" in status.stdout
    as_json = json.loads(gameday(workdir, "status", "--json").stdout)
    assert {p["healthy"] for p in as_json["processes"]} == {True}

    again = gameday(workdir, "up", str(SYSTEM))
    assert again.returncode == 2 and "already runs here" in again.stderr

    down = gameday(workdir, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped bench" in down.stdout
    assert not procs.alive(pids, groups)
    assert not (workdir / ".gameday" / "current.json").exists()
    assert gameday(workdir, "status").returncode == 1
    assert "nothing to stop" in gameday(workdir, "down").stdout


def test_foreground_stops_everything_on_sigterm(workdir: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "up", str(SYSTEM), "--foreground"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        state = wait_running(workdir)
        assert state["supervisor"]["pid"] == process.pid
        pids, groups = everything_of(state)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stdout is not None
    assert b"front/0 stopped" in process.stdout.read()
    assert not procs.alive(pids, groups)
    assert not (workdir / ".gameday" / "current.json").exists()


def test_a_supervisor_killed_hard_takes_its_system_with_it(workdir: Path) -> None:
    assert gameday(workdir, "up", str(SYSTEM)).returncode == 0
    state = state_of(workdir)
    pids, groups = everything_of(state)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10  # its watchdog: SIGTERM, 3 s, SIGKILL
    while procs.alive(pids, groups) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs.alive(pids, groups)
    status = gameday(workdir, "status")
    assert status.returncode == 1 and "nothing is left; `gameday down` clears" in status.stdout
    assert gameday(workdir, "down").returncode == 0


def test_down_cleans_up_after_a_supervisor_and_its_watchdog_killed_hard(workdir: Path) -> None:
    assert gameday(workdir, "up", str(SYSTEM)).returncode == 0
    state = state_of(workdir)
    pids, groups = everything_of(state)
    os.kill(state["watchdog"], signal.SIGKILL)  # first: it would stop everything itself
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while state["supervisor"]["pid"] in procs.table() and time.monotonic() < deadline:
        time.sleep(0.05)
    status = gameday(workdir, "status")
    assert status.returncode == 1 and "supervisor of bench is gone" in status.stdout
    refused = gameday(workdir, "up", str(SYSTEM))
    assert refused.returncode == 2 and "run `gameday down` to stop them first" in refused.stderr
    down = gameday(workdir, "down", "--grace", "5")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not procs.alive(pids, groups)


def test_a_bad_system_file_fails_before_anything_starts(workdir: Path) -> None:
    bad = workdir / "system.yaml"
    bad.write_text("name: x\nservices:\n  a:\n    command: run --port {port}\n    replicas: 0\n")
    up = gameday(workdir, "up", str(bad))
    assert up.returncode == 2
    assert f"{bad}:5: services.a.replicas must be a whole number >= 1, got 0" in up.stderr
    assert not (workdir / ".gameday").exists()
    replicas = gameday(workdir, "up", str(SYSTEM), "--replicas", "backend:3")
    assert replicas.returncode == 2 and "must be SERVICE=COUNT" in replicas.stderr
    no_prometheus = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "up", str(SYSTEM), "--prometheus"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert no_prometheus.returncode == 2
    assert "no prometheus binary on PATH; install Prometheus" in no_prometheus.stderr
    assert not (workdir / ".gameday").exists()
    missing = gameday(workdir, "up")
    assert (
        missing.returncode == 2
        and "cannot read system file sample_system/system.yaml" in missing.stderr
    )
