"""The page of a matrix run, from its journal and samples: one heatmap square and one detail
per planned cell, every judged attempt with its timeline, verdict table and slowest traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest

from chaos.report.html.matrix_page import matrix_page
from chaos.report.html.model import Page
from loadtests.windows import read_run
from tests.chaos.report.synthetic import HOSTILE_500_BODY, matrix_run


def page_of(run_dir: Path, **changes: Any) -> Page:
    journal = json.loads((run_dir / "journal.json").read_text())
    journal.update(changes)
    return matrix_page(journal, read_run(run_dir / "load"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("matrix")
    matrix_run(path)
    return path


@pytest.fixture(scope="module")
def page(run_dir: Path) -> Page:
    return page_of(run_dir)


def test_one_square_per_planned_cell_coloured_by_its_state(page: Page, run_dir: Path) -> None:
    plan = json.loads((run_dir / "journal.json").read_text())["plan"]
    heat = page.figures["heatmap"]["data"][0]
    squares = {
        (target, kind): (label, anchor, code)
        for target, labels, anchors, codes in zip(
            heat["y"], heat["text"], heat["customdata"], heat["z"], strict=True
        )
        for kind, label, anchor, code in zip(heat["x"], labels, anchors, codes, strict=True)
        if anchor is not None
    }
    assert len(squares) == len(plan) == len(page.details) == len(page.index)
    assert list(heat["x"]) == ["down", "latency", "kill", "hostile_input"]
    # colour codes: 0 not run; 1 + moved for a pass; 2 + journeys (2) + moved for a failure
    assert squares["pay", "latency"] == ("2/2 ✗", "cell-pay-latency", 6)
    assert squares["web->pay", "latency"] == ("= 2/2 ✗", "cell-web-pay-latency", 6)
    assert squares["web", "hostile_input"] == ("0/2 ✗", "cell-web-hostile-input", 4)
    assert squares["pay", "down"] == ("1/2", "cell-pay-down", 2)
    assert squares["stock/0", "kill"] == ("0/2", "cell-stock-0-kill", 1)
    assert squares["web", "latency"] == ("skip", "cell-web-latency", 0)
    assert squares["stock", "down"] == ("-", "cell-stock-down", 0)  # planned, never reached
    states = {d.title: d.state for d in page.details}
    assert states["pay:latency"] == states["web:hostile_input"] == "fail"
    assert states["pay:down"] == states["stock/0:kill"] == "pass"
    assert states["web:latency"] == "skipped" and states["stock:down"] == "not run"
    assert [a for a, _, _ in page.skipped] == [
        d.anchor for d in page.details if d.state in ("skipped", "not run")
    ]


def test_every_figure_is_valid_plotly(page: Page) -> None:
    shown = {a.figure for d in page.details for a in d.attempts}
    assert set(page.figures) == shown | {"heatmap"}
    edge = next(d for d in page.details if d.title == "web->pay:latency")
    assert [a.figure for a in edge.attempts] == ["cell-pay-latency-1", "cell-pay-latency-2"]
    for figure in page.figures.values():
        go.Figure(figure)  # raises on any property plotly does not know


def test_a_failed_cell_shows_both_attempts_and_why(page: Page) -> None:
    cell = next(d for d in page.details if d.title == "pay:latency")
    assert "claimed unaffected but moved: browse" in cell.summary
    assert "reproduced" in cell.summary
    assert [a.title for a in cell.attempts] == ["attempt 1 of 2: failed", "attempt 2 of 2: failed"]
    browse = next(r for r in cell.attempts[0].rows if r.journey == "browse")
    assert (browse.claim, browse.passed) == ("unaffected", False)
    assert browse.source.startswith("derived: none of its")
    assert browse.latency_q.startswith("q ")
    assert any("latency deviated" in p for p in browse.problems)
    buy = next(r for r in cell.attempts[0].rows if r.journey == "buy")
    assert buy.claim == "degraded" and buy.error_kinds.startswith("503 x")
    row = next(r for r in page.index if r.cell == "pay:latency")
    assert row.unexpected == "browse" and row.why.startswith("browse: ")


def test_timelines_shade_the_judged_windows_around_the_fault(page: Page) -> None:
    cell = next(d for d in page.details if d.title == "pay:down")
    (attempt,) = cell.attempts
    assert attempt.figure is not None
    figure = page.figures[attempt.figure]
    shades = {(s["x0"], s["x1"]) for s in figure["layout"]["shapes"]}
    assert (0, 3) in shades and (3, 7) in shades  # fault, recovery: seconds since the fault
    assert len(figure["data"]) == 6  # p95, p50, errors of two journeys
    buy_errors = next(t for t in figure["data"] if t["name"] == "buy" and t["yaxis"] == "y2")
    start = buy_errors["x0"]  # the first second's midpoint, relative to the fault
    during = [e for i, e in enumerate(buy_errors["y"]) if 0 < start + i < 3]
    assert during == [1.0, 1.0, 1.0]  # pay down: every buy failed, in every fault second


def test_slowest_traces_hostile_input_and_invariants(page: Page, run_dir: Path) -> None:
    cells = {d.title: d for d in page.details}
    hostile = cells["web:hostile_input"].attempts[0]
    assert hostile.hostile is not None and not hostile.hostile.passed
    assert hostile.hostile.operations[0] == ("GET /api/items", 14, 3, 0)
    assert HOSTILE_500_BODY in hostile.hostile.examples[0]
    assert hostile.problems == ("hostile input: 3 of 28 answers were 5xx (GET /api/items 3)",)
    kill = cells["stock/0:kill"].attempts[0]
    assert kill.invariants is not None and kill.invariants.passed

    slow = cells["pay:latency"].attempts[0].slowest
    assert len(slow) == 10 and all(len(r.trace_id) == 32 for r in slow)
    assert [r.latency_ms for r in slow] == sorted((r.latency_ms for r in slow), reverse=True)
    assert slow[0].journey == "browse"  # the one that was slowed down
    assert page.call_graph is not None
    assert page.call_graph.services == ("pay", "stock", "web")
    assert page.call_graph.rows[1][2:] == ((True, True, True), "web->pay, web->stock")
    assert page.findings == ()  # the declared claims agree with the traces


def test_a_run_without_traces_says_so(tmp_path: Path) -> None:
    matrix_run(tmp_path, traced=False)
    page = page_of(tmp_path)
    assert page.call_graph is None and "no trace ids" in page.call_graph_note
    attempts = [a for d in page.details for a in d.attempts]
    assert attempts and all(not a.traced and a.slowest == () for a in attempts)


def test_a_run_that_ended_before_its_verdict_shows_the_plan(run_dir: Path) -> None:
    page = page_of(
        run_dir,
        matrix_verdict=None,
        verdict=None,
        status="interrupted",
        error="interrupted by SIGINT",
        invariants=None,
    )
    assert page.state == "fail" and page.error == "interrupted by SIGINT"
    assert {d.state for d in page.details} == {"not run", "skipped"}
    assert page.charts == 0 and set(page.figures) == {"heatmap"}
    go.Figure(page.figures["heatmap"])
