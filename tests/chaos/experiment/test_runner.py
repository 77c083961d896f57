"""The experiment runner end to end on a real two-service system, short windows.

One experiment must hold (front fails fast behind a timeout), the same fault on a front with
no timeout must be rejected: the suite has to catch a real isolation bug. Interrupts must
leave no fault and no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaos.experiment.file import load_experiment
from chaos.experiment.runner import run_experiment
from chaos.faults.journal import Journal
from chaos.judgement.verdict import Outcome
from chaos.proxy.client import ToxiproxyClient
from chaos.report.files import write_outputs
from chaos.runtime.process import pids_with_env
from loadtests.windows import SampleSet

HERE = Path(__file__).parent
ROOT = HERE.parent.parent.parent

pytestmark = pytest.mark.slow


class Watcher:
    """An observer recording what a live view would show."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.faults: list[str] = []
        self.journeys: set[str] = set()

    def phase(self, name: str, ends_at: float) -> None:
        self.phases.append(name)

    def fault(self, fault: object, state: str) -> None:
        self.faults.append(state)

    def tick(self, samples: SampleSet, now: float) -> None:
        self.journeys.update(samples.journeys)


def _leftovers(run_dir: Path) -> list[int]:
    return pids_with_env("GAMEDAY_RUN_DIR", str(run_dir))


def test_a_fault_the_system_isolates_passes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    seen = Watcher()
    result = run_experiment(
        load_experiment(HERE / "slow-back.yaml"),
        run_dir=run_dir,
        write_outputs=write_outputs,
        observers=[seen],
    )
    assert result.status == "completed", result.error
    assert seen.phases == ["warm-up", "baseline", "fault", "recovery", "judging"]
    assert seen.faults == ["applied", "removed"]
    assert seen.journeys == {"fast", "dep"}  # the live view saw the samples as they came
    assert result.verdict is not None
    problems = {j.journey: j.problems for j in result.verdict.journeys}
    assert result.verdict.outcome is Outcome.HELD, problems
    assert result.exit_code == 0
    fast, dep = result.verdict.journeys
    assert fast.passed and fast.comparison.fault_count > 50
    assert dep.fault_errors.get("503", 0) > 0  # the fault really hit
    assert dep.comparison.fault_error_rate > 0.9 > dep.comparison.baseline_error_rate

    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert [f["state"] for f in journal["faults"]] == ["removed"]
    assert set(journal["windows"]) == {"warmup", "baseline", "fault", "recovery"}
    assert "| dep | degraded | PASS |" in (run_dir / "summary.md").read_text()
    assert 'failures="0"' in (run_dir / "junit.xml").read_text()
    assert _leftovers(run_dir) == []


def test_a_caller_without_timeout_is_caught(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_experiment(
        load_experiment(HERE / "slow-back-no-timeout.yaml"),
        run_dir=run_dir,
        write_outputs=write_outputs,
    )
    assert result.verdict is not None, result.error
    assert result.verdict.outcome is Outcome.REJECTED
    assert result.exit_code == 1
    dep = result.verdict.journeys[1]
    assert any("not fast" in p for p in dep.problems), dep.problems
    cases = {c.get("name"): c for c in ET.parse(run_dir / "junit.xml").getroot()}
    failure = cases["dep (degraded)"].find("failure")
    assert failure is not None and "not fast" in failure.get("message", "")
    assert _leftovers(run_dir) == []


def _start_run(run_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", "--no-live", "--run-dir", str(run_dir),
         str(HERE / "slow-back.yaml")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_for_applied_fault(run_dir: Path, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
        try:
            journal = json.loads((run_dir / "journal.json").read_text())
        except (FileNotFoundError, ValueError):
            journal = {}
        faults = journal.get("faults") or []
        if faults and faults[0]["state"] == "applied":
            return journal
        time.sleep(0.1)
    raise AssertionError("the fault was never applied")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_in_the_fault_window_leaves_nothing(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    run_dir = tmp_path / "run"
    process = _start_run(run_dir)
    journal = _wait_for_applied_fault(run_dir, process)
    toxiproxy = ToxiproxyClient(str(journal["toxiproxy"]))
    assert toxiproxy.toxics("front.back.0")  # the fault is really there
    process.send_signal(sig)
    assert process.wait(timeout=60) == code
    final = Journal.load(run_dir)
    assert final.status == "interrupted"
    assert final.live_faults() == []
    assert _leftovers(run_dir) == []
    assert not toxiproxy.running()


def test_sigkill_then_rollback_leaves_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = _start_run(run_dir)
    journal = _wait_for_applied_fault(run_dir, process)
    process.kill()
    process.wait(timeout=30)
    toxiproxy = ToxiproxyClient(str(journal["toxiproxy"]))
    assert [t.name for t in toxiproxy.toxics("front.back.0")] == ["gameday-latency-front->back"]
    assert _leftovers(run_dir), "a SIGKILL leaves the system running: rollback is needed"

    rollback = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "rollback", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "undone: latency toxic gameday-latency-front->back on front.back.0" in rollback.stdout
    assert _leftovers(run_dir) == []
    final = Journal.load(run_dir)
    assert final.status == "interrupted" and final.live_faults() == []
    again = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "rollback", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0 and "nothing to roll back" in again.stdout
