"""The watchdog: a process that dies, however it dies, takes what it started with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.procfs import is_running
from tests.support import ROOT

# A parent that starts three `sleep`s, each in a session of its own, and says so: one
# registered by its group, one found by its environment marker only, and one spawned from a
# thread that then ends (PR_SET_PDEATHSIG would kill that one right then).
PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, threading, time
    from chaos import watchdog
    from chaos.procfs import start_time

    mark, workdir, forget = sys.argv[1], sys.argv[2], sys.argv[3] == "forget"
    guard = watchdog.current()
    keys = [guard.watch_env("GAMEDAY_TEST_MARK", mark, log=os.path.join(workdir, "log"))]
    group = subprocess.Popen(["sleep", "60"], start_new_session=True)
    keys.append(guard.watch_group(group.pid, start_time(group.pid)))
    marked = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, "GAMEDAY_TEST_MARK": mark}, start_new_session=True
    )
    box = []
    def spawn():
        box.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
        keys.append(guard.watch_group(box[0].pid, start_time(box[0].pid)))
    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join()
    keys.append(guard.on_death(["touch", "after-death"], cwd=workdir))
    if forget:
        guard.forget(*keys)
    print(group.pid, marked.pid, box[0].pid, guard.pid, flush=True)
    if not forget:
        time.sleep(60)
    """
)


def _start_parent(tmp_path: Path, mode: str = "keep") -> tuple[subprocess.Popen[str], list[int]]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, f"mark-{tmp_path.name}", str(tmp_path), mode],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as a terminal's foreground job: its own process group
    )
    assert parent.stdout is not None
    return parent, [int(p) for p in parent.stdout.readline().split()]


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(is_running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """PIDs a failed test might leave: killed at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


def test_sigkill_to_the_parents_group_stops_everything_it_started(
    tmp_path: Path, reaper: list[int]
) -> None:
    parent, (group, marked, from_thread, dog) = _start_parent(tmp_path)
    reaper += [group, marked, from_thread, dog]
    time.sleep(0.3)
    assert all(is_running(p) for p in (group, marked, from_thread, dog))  # the thread's end
    os.killpg(parent.pid, signal.SIGKILL)  # the parent's group, as a closing terminal would
    parent.wait(10)
    assert _gone([group, marked, from_thread], timeout=10)
    assert _gone([dog], timeout=10)  # it ran the on_death command and left
    assert (tmp_path / "after-death").exists()
    log = (tmp_path / "log").read_text()
    assert f"process {parent.pid} ended with things still running; sent SIGTERM" in log
    assert "ran touch after-death: exit 0" in log


def test_a_parent_that_forgot_everything_leaves_its_children_alone(
    tmp_path: Path, reaper: list[int]
) -> None:
    parent, (group, marked, from_thread, dog) = _start_parent(tmp_path, "forget")
    reaper += [group, marked, from_thread, dog]
    assert parent.wait(10) == 0
    assert not is_running(dog)  # a clean exit waits for its watchdog: nothing of its own left
    assert all(is_running(p) for p in (group, marked, from_thread))
    assert not (tmp_path / "after-death").exists() and not (tmp_path / "log").exists()


def test_a_dead_watchdog_is_replaced_with_every_entry(tmp_path: Path, reaper: list[int]) -> None:
    from chaos import watchdog
    from chaos.procfs import start_time

    guard = watchdog.Watchdog()  # not this process's: the test ends it by closing its pipe
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    reaper.append(child.pid)
    guard.watch_group(child.pid, start_time(child.pid))
    first = guard.pid
    assert first is not None
    reaper.append(first)
    os.kill(first, signal.SIGKILL)
    assert _gone([first], timeout=5)
    assert is_running(child.pid)  # a killed watchdog stops nothing
    guard.on_death(["touch", "after"], cwd=str(tmp_path))  # notices, starts another
    second = guard.pid
    assert second is not None and second != first
    reaper.append(second)
    guard._drop()  # as if this process died: the pipe closes
    assert _gone([child.pid], timeout=10)
    child.wait(5)
    assert _gone([second], timeout=10)
    assert (tmp_path / "after").exists()
