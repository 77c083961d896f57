"""Interrupted and crashed runs: whatever kills `gameday run`, nothing is left behind.

The unit tests build a dead run by hand (its journal names a process that has exited) and
a fault on a real embedded proxy; the end-to-end ones interrupt `gameday run` on the
two-service system at chosen moments — SIGINT, SIGTERM, SIGKILL — as the soak script
(scripts/soak_interrupts.py) does a hundred times at random ones.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaos.experiment.crashed import left_behind, owner_alive, settle
from chaos.faults.journal import Journal
from chaos.procfs import is_running, pids_with_env, start_time
from chaos.proxy import serve_in_thread
from chaos.proxy.client import ToxiproxyClient
from tests.support import ROOT, gameday

HERE = Path(__file__).parent
QUICK = HERE / "quick.yaml"


def _dead_owner() -> dict[str, int | None]:
    child = subprocess.Popen(["sleep", "0"])
    started = start_time(child.pid)
    child.wait()
    return {"pid": child.pid, "start_time": started}


def _dead_run(root: Path, toxiproxy: str, *, owns_system: bool) -> Path:
    """A run directory as a `gameday run` killed in its fault window leaves it."""
    run_dir = root / ".gameday" / "runs" / "quick-crashed"
    journal = Journal.create(
        run_dir,
        experiment="quick",
        experiment_file=str(QUICK),
        system_file=str(HERE / "system.yaml"),
        owns_system=owns_system,
    )
    now = time.time()
    journal.set(owner=_dead_owner(), toxiproxy=toxiproxy)
    journal.set_window("warmup", now - 5, now - 4)
    journal.set_window("baseline", now - 4, now - 1)
    journal.data["faults"].append(
        {
            "name": "latency-front->back", "kind": "latency", "target": "front->back",
            "state": "applied", "applied_at": now - 1, "removed_at": None, "error": None,
            "actions": [{"kind": "toxic", "proxy": "front.back.0",
                         "toxic": "gameday-latency-front->back", "toxic_type": "latency",
                         "stream": "downstream", "toxicity": 1.0,
                         "attributes": {"latency": 2000}}],
        }
    )  # fmt: skip
    journal.save()
    return run_dir


def test_a_dead_run_is_marked_crashed_with_its_outputs(tmp_path: Path) -> None:
    run_dir = _dead_run(tmp_path, "http://127.0.0.1:9", owns_system=True)
    assert owner_alive(Journal.load(run_dir).data) is False
    [done] = settle(tmp_path / ".gameday" / "runs")
    assert done.run_dir == run_dir
    journal = Journal.load(run_dir)
    assert journal.status == "crashed" and "died during the fault window" in journal.data["error"]
    summary = (run_dir / "summary.md").read_text()
    assert summary.startswith("# quick: crashed") and "No samples were written" in summary
    junit = (run_dir / "junit.xml").read_text()
    assert 'failures="1"' in junit and "crashed: the run's process" in junit
    assert settle(tmp_path / ".gameday" / "runs") == []  # once
    # its own proxy is gone, and the toxic with it: nothing is reported as left
    assert left_behind(tmp_path / ".gameday" / "runs") == []


def test_a_run_killed_while_writing_its_report_still_gets_one(tmp_path: Path) -> None:
    # Found by the soak: SIGKILL after the journal said `completed`, before summary.md.
    run_dir = _dead_run(tmp_path, "http://127.0.0.1:9", owns_system=True)
    journal = Journal.load(run_dir)
    journal.fault_removed(0)
    journal.finish("completed", verdict={"outcome": "held", "exit_code": 0}, reported=False)
    assert gameday(tmp_path, "rollback", str(run_dir)).returncode == 0  # the watchdog's command
    journal = Journal.load(run_dir)
    assert journal.status == "crashed" and not journal.unreported
    assert "died while writing its report, after the run completed" in journal.data["error"]
    assert (run_dir / "summary.md").read_text().startswith("# quick: crashed")
    assert "crashed: the run's process" in (run_dir / "junit.xml").read_text()
    assert settle(tmp_path / ".gameday" / "runs") == []  # once
    # A run that wrote its report is left alone, however it ended.
    journal.finish("completed", reported=True)
    assert settle(tmp_path / ".gameday" / "runs") == []


def test_status_reports_a_fault_left_on_a_proxy_the_run_did_not_start(tmp_path: Path) -> None:
    with serve_in_thread() as server:
        client = ToxiproxyClient(server.url)
        client.create_proxy("front.back.0", "127.0.0.1:9")
        client.add_toxic("front.back.0", "latency", name="gameday-latency-front->back",
                         attributes={"latency": 2000})  # fmt: skip
        run_dir = _dead_run(tmp_path, server.url, owns_system=False)

        status = gameday(tmp_path, "status")
        assert status.returncode == 1
        assert "is marked crashed" in status.stderr  # the first command after the crash
        command = "gameday rollback .gameday/runs/quick-crashed"
        assert (
            f"the run in {run_dir} crashed and left fault latency-front->back: latency toxic "
            f"gameday-latency-front->back on front.back.0 (Toxiproxy {server.url}) is still in "
            f"place; undo it with `{command}`"
        ) in status.stdout

        rollback = gameday(tmp_path, *shlex.split(command)[1:])  # exactly what status said
        assert rollback.returncode == 0, rollback.stdout + rollback.stderr
        assert "undone: latency toxic gameday-latency-front->back" in rollback.stdout
        assert client.toxics("front.back.0") == []
        assert "## Faults\n\n- latency-front->back (latency on front->back): removed" in (
            (run_dir / "summary.md").read_text()
        )
        again = gameday(tmp_path, "status")
        assert "left" not in again.stdout and "no system runs here" in again.stdout


def test_rollback_leaves_a_run_in_progress_alone(tmp_path: Path) -> None:
    run_dir = _dead_run(tmp_path, "http://127.0.0.1:9", owns_system=True)
    journal = Journal.load(run_dir)
    journal.set(owner={"pid": os.getpid(), "start_time": start_time(os.getpid())})
    rollback = gameday(tmp_path, "rollback")
    assert rollback.returncode == 0
    assert f"still in progress (pid {os.getpid()}); left alone" in rollback.stdout
    assert Journal.load(run_dir).status == "running"


# -- end to end: `gameday run` on the two-service system --------------------------------------


def _start_run(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", "--no-live", *args, str(QUICK)],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _journal(cwd: Path) -> dict[str, Any]:
    for path in (cwd / ".gameday" / "runs").glob("quick-*/journal.json"):
        try:
            return dict(json.loads(path.read_text()))
        except ValueError:
            pass
    return {}


MOMENTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "start-up": lambda j: bool(j),
    "baseline": lambda j: (
        "warmup" in j.get("windows", {}) and time.time() > j["windows"]["warmup"][1]
    ),
    "fault window": lambda j: any(f["state"] == "applied" for f in j.get("faults", [])),
    "recovery": lambda j: any(f["state"] == "removed" for f in j.get("faults", [])),
}


def _wait_for(cwd: Path, process: subprocess.Popen[bytes], moment: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
        journal = _journal(cwd)
        if MOMENTS[moment](journal):
            return journal
        time.sleep(0.05)
    raise AssertionError(f"the run never reached the {moment}")


def _nothing_left(run_dir: str, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := pids_with_env("GAMEDAY_RUN_DIR", run_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "moment"),
    [
        pytest.param(signal.SIGKILL, "start-up", id="SIGKILL-start-up"),
        pytest.param(signal.SIGINT, "fault window", id="SIGINT-fault"),
        pytest.param(signal.SIGTERM, "recovery", id="SIGTERM-recovery"),
        pytest.param(signal.SIGKILL, "fault window", id="SIGKILL-fault"),
    ],
)
def test_an_interrupt_at_any_moment_leaves_nothing(
    tmp_path: Path, sig: signal.Signals, moment: str
) -> None:
    process = _start_run(tmp_path)
    journal = _wait_for(tmp_path, process, moment)
    if moment == "fault window":
        assert ToxiproxyClient(journal["toxiproxy"]).toxics("front.back.0")  # really there
    process.send_signal(sig)
    code = process.wait(timeout=60)
    run_dir = journal["run_dir"]
    # Interrupted, the run cleans up itself; killed, its watchdog does, within seconds.
    assert _nothing_left(run_dir, within=0 if sig != signal.SIGKILL else 10) == []
    if journal.get("toxiproxy"):
        assert not ToxiproxyClient(journal["toxiproxy"], timeout=1).running()
    if sig == signal.SIGKILL:
        assert code == -9
        log = Path(run_dir) / "watchdog.log"  # written once its `gameday rollback` has run
        deadline = time.monotonic() + 30
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "rollback" in log.read_text() and "exit 0" in log.read_text()
        final = Journal.load(Path(run_dir))
        assert final.status == "crashed", final.data
        assert f"died during the {moment}" in final.data["error"]
        assert "# quick: crashed" in (Path(run_dir) / "summary.md").read_text()
        assert "crashed: " in (Path(run_dir) / "junit.xml").read_text()
    else:
        final = Journal.load(Path(run_dir))
        assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig]
        assert final.status == "interrupted"
    assert final.live_faults() == []
    status = gameday(tmp_path, "status")
    assert "left" not in status.stdout, status.stdout
    assert "nothing to roll back" in gameday(tmp_path, "rollback").stdout


@pytest.mark.slow
def test_a_crashed_attached_run_is_found_and_rolled_back(tmp_path: Path) -> None:
    up = gameday(tmp_path, "up", str(HERE / "system.yaml"))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        process = _start_run(tmp_path, "--attach")
        journal = _wait_for(tmp_path, process, "fault window")
        toxiproxy = ToxiproxyClient(journal["toxiproxy"])
        # The run and its watchdog both die (say the machine's OOM killer took them): the
        # fault stays on the proxy of `gameday up`, and the load goes on.
        os.kill(journal["watchdog"], signal.SIGKILL)
        process.kill()
        process.wait(30)
        assert toxiproxy.toxics("front.back.0")

        status = gameday(tmp_path, "status")
        assert status.returncode == 1
        name = Path(journal["run_dir"]).name
        assert f"`gameday rollback .gameday/runs/{name}`" in status.stdout, status.stdout
        assert "latency toxic gameday-latency-front->back on front.back.0" in status.stdout
        assert "processes " in status.stdout  # the load

        rollback = gameday(tmp_path, "rollback", f".gameday/runs/{name}")
        assert rollback.returncode == 0, rollback.stdout + rollback.stderr
        assert toxiproxy.toxics("front.back.0") == []
        assert pids_with_env("GAMEDAY_RUN_DIR", journal["run_dir"]) == []
        status = gameday(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr  # up, healthy, clean
    finally:
        down = gameday(tmp_path, "down")
        assert down.returncode == 0, down.stdout + down.stderr
    assert not is_running(journal["owner"]["pid"])
