"""The matrix end to end on a three-service system whose answer is known.

front -> alpha is isolated (timeout, fallback); front -> beta is not (no timeout, one small
pool shared with alpha's calls). With --faults down,latency the matrix must find exactly
that: beta:latency fails, naming journey `a` (claimed unaffected: its traces never reach
beta) and journey `b` (degraded, but not fast), and nothing else fails.
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

from chaos.faults.journal import Journal
from chaos.matrix.plan import plan_cells
from chaos.matrix.runner import run_matrix
from chaos.proxy.client import ToxiproxyClient
from chaos.report.matrix import write_matrix_outputs
from chaos.runtime.process import pids_with_env
from chaos.system.model import load_system

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
SYSTEM = HERE / "system.yaml"

pytestmark = pytest.mark.slow


def test_the_matrix_finds_the_unisolated_dependency_and_nothing_else(tmp_path: Path) -> None:
    spec = load_system(SYSTEM)
    run_dir = tmp_path / "run"
    result = run_matrix(spec, plan_cells(spec), run_dir=run_dir, write_outputs=write_matrix_outputs)
    assert result.verdict is not None, result.error
    verdict = result.verdict
    failed = {c.cell.id: c for c in verdict.failed}
    assert set(failed) == {"beta:latency", "front->beta:latency"}, {
        c: [p for j in v.journeys for p in j.problems] for c, v in failed.items()
    }
    assert result.exit_code == 1
    beta = failed["beta:latency"]
    assert beta.unexpected == ("a",)
    b = next(j for j in beta.journeys if j.journey == "b")
    assert any(p.startswith("not fast") for p in b.problems), b.problems
    assert beta.reproduced is True  # the failure showed again in its second attempt

    graph = result.call_graph
    assert graph is not None
    assert graph.of("a").edges == {("front", "alpha")}
    assert graph.of("b").edges == {("front", "beta")}
    assert graph.of("local").services == {"front"}
    assert [(f.cell, f.journey) for f in verdict.findings] == [("alpha:down", "a")]

    cases = ET.parse(run_dir / "junit.xml").getroot()
    failures = {
        (c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None
    }
    assert ("gameday.matrix.trio.beta:latency", "a (unaffected)") in failures
    assert ("gameday.matrix.trio.alpha:down", "a (unaffected)") not in failures
    summary = (run_dir / "summary.md").read_text()
    assert "| beta:latency | FAIL |" in summary and "rests on a fallback" in summary
    journal = Journal.load(run_dir)
    assert journal.status == "completed" and journal.live_faults() == []
    assert pids_with_env("GAMEDAY_RUN_DIR", str(run_dir)) == []


def _gameday(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip


def test_plan_prints_the_cells_and_the_call_graph_and_injects_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / "plan"
    process = _gameday("matrix", str(SYSTEM), "--plan", "--run-dir", str(run_dir))
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    assert "front->beta:latency" in out and "= beta:latency" in out
    assert "a (" in out and "front->alpha" in out  # the call graph
    assert "rests on a fallback" in out
    assert Journal.load(run_dir).data["faults"] == []


def _start_with_a_fault_applied(run_dir: Path) -> tuple[subprocess.Popen[str], ToxiproxyClient]:
    process = _gameday("matrix", str(SYSTEM), "--only", "beta", "--faults", "latency",
                       "--run-dir", str(run_dir))  # fmt: skip
    deadline = time.monotonic() + 90
    journal: dict[str, object] = {}
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            journal = json.loads((run_dir / "journal.json").read_text())
        except (FileNotFoundError, ValueError):
            journal = {}
        faults = journal.get("faults") or []
        if faults and faults[0]["state"] == "applied":  # type: ignore[index]
            break
        time.sleep(0.1)
    toxiproxy = ToxiproxyClient(str(journal["toxiproxy"]))
    assert toxiproxy.toxics("front.beta.0")
    return process, toxiproxy


def test_sigterm_in_a_cell_removes_its_fault_and_stops_everything(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process, _ = _start_with_a_fault_applied(run_dir)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    final = Journal.load(run_dir)
    assert final.status == "interrupted" and final.live_faults() == []
    assert pids_with_env("GAMEDAY_RUN_DIR", str(run_dir)) == []


def test_sigkill_leaves_nothing_and_the_crashed_matrix_gets_its_summary(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process, toxiproxy = _start_with_a_fault_applied(run_dir)
    process.kill()  # no cleanup of its own: the watchdog stops the run and rolls it back
    process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        pids_with_env("GAMEDAY_RUN_DIR", str(run_dir)) or not (run_dir / "junit.xml").exists()
    ):  # the watchdog marks the journal crashed, then writes summary.md and junit.xml
        time.sleep(0.2)
    assert pids_with_env("GAMEDAY_RUN_DIR", str(run_dir)) == []
    assert not toxiproxy.running()  # the embedded proxy, and its fault, went with the run
    final = Journal.load(run_dir)
    assert final.status == "crashed", final.data.get("error")
    assert "matrix of trio: crashed" in (run_dir / "summary.md").read_text()
