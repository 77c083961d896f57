"""The page of one experiment: its phases on one timeline, the verdict table with where each
claim comes from, the call graph read from the run's spans, a failed run without samples."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

from chaos.errors import GamedayError
from chaos.experiment.runner import RunResult
from chaos.faults.journal import Journal
from chaos.report.html.run_page import run_page
from chaos.report.html.write import write_report, write_run_report
from loadtests.windows import SampleSet, read_run
from tests.chaos.report.synthetic import T0, experiment_run


def test_an_experiment_page_has_its_phases_verdicts_and_call_graph(tmp_path: Path) -> None:
    result, experiment, journal = experiment_run(tmp_path)
    path = write_run_report(result, experiment, journal)
    assert path == tmp_path / "report.html"

    page = run_page(
        journal.data,
        read_run(tmp_path / "load"),
        call_graph={"browse": {"traces": 3, "services": ["web"], "edges": []}},
    )
    (detail,) = page.details
    assert detail.open and detail.state == "pass"
    (attempt,) = detail.attempts
    assert attempt.windows == "warm-up 2 s, baseline 8 s, fault 6 s, recovery 6 s"
    assert attempt.figure is not None
    figure = page.figures[attempt.figure]
    go.Figure(figure)
    shades = [(s["x0"], s["x1"]) for s in figure["layout"]["shapes"]]
    assert shades == [(-10, -8), (-8, 0), (0, 6), (6, 12)]  # seconds since the fault
    buy = next(r for r in attempt.rows if r.journey == "buy")
    assert buy.claim == "degraded" and buy.errors == "0.0% -> 100.0%"
    assert "hypothesis of" in buy.source  # without the experiment: its file
    assert len(attempt.slowest) == 10 and attempt.traced
    assert page.call_graph is not None and page.call_graph.rows[0][0] == "browse"


def test_claims_name_the_hypothesis_and_spans_give_the_call_graph(tmp_path: Path) -> None:
    result, experiment, journal = experiment_run(tmp_path)
    write_run_report(result, experiment, journal)
    html = (tmp_path / "report.html").read_text()
    assert "hypothesis: degraded, p95 &lt;= 800ms; errors 503 (pay-slow.yaml)" in html
    assert "hypothesis: steady (pay-slow.yaml)" in html
    # the call graph, read from traces/ as the matrix reads it: buy reaches pay, browse not
    assert "web-&gt;pay, web-&gt;stock" in html and "<td>web-&gt;stock</td>" in html


def test_a_run_that_failed_before_the_load_still_gets_a_report(tmp_path: Path) -> None:
    _, experiment, _ = experiment_run(tmp_path / "ok")
    run_dir = tmp_path / "failed"
    journal = Journal.create(
        run_dir,
        experiment="pay-slow",
        experiment_file="x.yaml",
        system_file="s.yaml",
        owns_system=True,
    )
    journal.finish("failed", error="payments did not become ready within 30s")
    result = RunResult(run_dir=run_dir, status="failed", error="payments did not become ready")
    html = write_run_report(result, experiment, journal).read_text()
    assert "payments did not become ready within 30s" in html
    page = run_page(journal.data, SampleSet())
    assert page.state == "fail" and page.charts == 0 and page.details[0].attempts == ()


def test_a_report_can_be_written_again_from_the_run_directory(tmp_path: Path) -> None:
    result, experiment, journal = experiment_run(tmp_path)
    first = write_run_report(result, experiment, journal).read_text()
    again = write_report(tmp_path).read_text()
    data = json.loads((tmp_path / "journal.json").read_text())
    assert data["windows"]["fault"] == [T0 + 10, T0 + 16]
    # the same page, except where each claim comes from (the experiment file is not read)
    assert first.count('class="chart timeline"') == again.count('class="chart timeline"') == 1
    assert "hypothesis of" in again and "hypothesis of" not in first


def test_a_directory_without_a_run_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "journal.json").write_text('{"system": "shop", "service": "payments"}')
    with pytest.raises(GamedayError, match="not the journal of a gameday run"):
        write_report(tmp_path)
    with pytest.raises(GamedayError, match="cannot read"):
        write_report(tmp_path / "missing")
