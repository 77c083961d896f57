"""The experiment runner end to end on a real two-service system, short windows.

One experiment must hold (front fails fast behind a timeout), the same fault on a front with
no timeout must be rejected: the suite has to catch a real isolation bug. Interrupts and
crashes: test_crashed.py.
"""

from __future__ import annotations

import json
import os
import signal
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from chaos.experiment.file import load_experiment
from chaos.experiment.runner import run_experiment
from chaos.judgement.verdict import Outcome
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


def test_a_signal_while_the_verdict_is_written_does_not_lose_the_report(tmp_path: Path) -> None:
    # Found by scripts/soak_interrupts.py: Ctrl-C just after the journal said `completed`
    # left a run without summary.md and junit.xml, and nothing would ever write them.
    def interrupted_writer(*args: Any) -> list[Path]:
        os.kill(os.getpid(), signal.SIGINT)
        return write_outputs(*args)

    run_dir = tmp_path / "run"
    result = run_experiment(
        load_experiment(HERE / "quick.yaml"), run_dir=run_dir, write_outputs=interrupted_writer
    )
    assert result.status == "completed", result.error
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "completed" and journal["reported"] is True
    assert result.outputs and all(path.exists() for path in result.outputs)
    assert {"summary.md", "junit.xml"} <= {path.name for path in result.outputs}
    assert _leftovers(run_dir) == []
