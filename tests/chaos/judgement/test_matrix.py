"""Matrix judgement on synthetic samples: many cells of noise pass, real isolation bugs fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.judgement.matrix import CellRecord, CellWindows, judge_matrix
from chaos.judgement.verdict import Outcome
from chaos.matrix.callgraph import CallGraph, JourneyGraph
from chaos.matrix.expectations import expect
from chaos.matrix.plan import Cell, plan_cells
from chaos.matrix.result import MatrixResult
from chaos.report.matrix import summary_markdown
from chaos.system.file import parse_system_text
from loadtests.windows import Window, WindowSet
from tests.chaos.judgement.synthetic import T0, Load

SPEC = parse_system_text(
    """
name: shop
services:
  gateway: {command: "r {port}", depends_on: [catalog, payments], public: true}
  catalog: {command: "r {port}"}
  payments: {command: "r {port}", replicas: 2}
journeys:
  browse: {p95: 300ms, error_rate: 2%}
  product: {p95: 300ms, error_rate: 2%}
  checkout: {p95: 800ms, error_rate: 2%}
matrix:
  deadlines: {checkout: 1000ms}
""",
    source="shop.yaml",
)
GRAPH = CallGraph(
    {
        "browse": JourneyGraph("browse", 30, frozenset({"gateway", "catalog"})),
        "product": JourneyGraph("product", 30, frozenset({"gateway", "catalog"})),
        "checkout": JourneyGraph("checkout", 30, frozenset({"gateway", "payments"})),
    }
)
CELLS = [c for c in plan_cells(SPEC, kinds=("down", "latency", "reset_peer", "kill", "pause"))]
RUN = [c for c in CELLS if c.runs]
BASE = {"browse": 20.0, "product": 30.0, "checkout": 60.0}
CELL_SECONDS = 10  # per cell: 3 s fault, then 7 s of recovery
BASELINE = 15


def claims_of(cells: list[Cell]):  # type: ignore[no-untyped-def]
    return {c.id: expect(c, SPEC.journeys, GRAPH, SPEC)[0] for c in cells}


def quiet(load: Load, seconds: range) -> None:
    for journey, median in BASE.items():
        load.add(journey, seconds, median_ms=median, per_second=12)


def timeline(load: Load, cells: list[Cell], *, attempts: int = 1):  # type: ignore[no-untyped-def]
    """Quiet load everywhere; each attempt of each cell gets [fault 3 s | recovery 7 s]."""
    quiet(load, range(BASELINE + CELL_SECONDS * len(cells) * attempts + 5))
    result = {}
    for index, cell in enumerate(cells):
        runs = []
        for attempt in range(attempts):
            start = BASELINE + CELL_SECONDS * (index * attempts + attempt)
            runs.append(
                (
                    CellWindows(
                        WindowSet.of("baseline", [Window("b", T0, T0 + BASELINE)]),
                        Window("fault", T0 + start, T0 + start + 3),
                        Window("recovery", T0 + start + 3, T0 + start + CELL_SECONDS),
                    ),
                    CellRecord(),
                )
            )
        result[cell.id] = runs
    return result


def judge(load: Load, attempts, cells=CELLS):  # type: ignore[no-untyped-def]
    assert SPEC.slo is not None
    return judge_matrix(
        cells, claims_of(cells), attempts, load.samples, SPEC.slo, SPEC.matrix,
        entry_points=SPEC.public,
    )  # fmt: skip


def fault_seconds(attempts, cell_id: str, attempt: int = 0) -> range:  # type: ignore[no-untyped-def]
    window = attempts[cell_id][attempt][0].fault
    return range(int(window.start - T0), int(window.end - T0))


@pytest.mark.parametrize("seed", range(4))
def test_many_cells_of_noise_find_nothing(seed: int) -> None:
    load = Load(seed)
    attempts = timeline(load, RUN)
    verdict = judge(load, attempts)
    assert verdict.outcome is Outcome.HELD, [
        (c.cell.id, [p for j in c.journeys for p in j.problems]) for c in verdict.failed
    ]
    assert verdict.comparisons >= 2 * len(RUN) * 2  # every unaffected journey, twice


def test_a_journey_slowed_by_an_unrelated_fault_is_named() -> None:
    load = Load(1)
    attempts = timeline(load, RUN)
    # catalog is slow; the bug: checkout, which never calls catalog, slows down with it
    load.add("checkout", fault_seconds(attempts, "catalog:latency"), median_ms=240, per_second=12)
    verdict = judge(load, attempts)
    failed = {c.cell.id: c for c in verdict.failed}
    assert set(failed) == {"catalog:latency", "gateway->catalog:latency"}
    cell = failed["catalog:latency"]
    assert cell.unexpected == ("checkout",)
    (problem,) = next(j for j in cell.journeys if j.journey == "checkout").problems
    assert problem.startswith("latency deviated: p95") and "q=" in problem


def test_a_partial_failure_moving_only_the_median_is_found() -> None:
    load = Load(2)
    attempts = timeline(load, RUN)
    # a gray failure: the bulk of checkouts 1.4x slower; p95 stays within its 1.5x tolerance,
    # the median (steadier, tolerance 1.25x) does not
    seconds = fault_seconds(attempts, "payments/0:pause")
    load.add("checkout", seconds, median_ms=BASE["checkout"] * 1.4, per_second=24)
    verdict = judge(load, attempts)
    cell = next(c for c in verdict.cells if c.cell.id == "payments/0:pause")
    checkout = next(j for j in cell.journeys if j.journey == "checkout")
    c = checkout.comparison
    assert c.fault_p95_ms is not None and c.baseline_p95_ms is not None
    assert c.fault_p95_ms < c.baseline_p95_ms * SPEC.matrix.latency_tolerance  # p95 alone: fine
    assert not cell.passed and "p50" in checkout.problems[0]


def test_degraded_journeys_must_fail_fast_and_with_an_answer() -> None:
    load = Load(3)
    attempts = timeline(load, RUN)
    seconds = fault_seconds(attempts, "payments:down")
    load.add("checkout", seconds, median_ms=5, error_rate=1.0, error="503", failed_ms=5)
    hung = fault_seconds(attempts, "payments:latency")
    load.add("checkout", hung, error_rate=1.0, error="ReadTimeout", failed_ms=2500)
    verdict = judge(load, attempts)
    cells = {c.cell.id: c for c in verdict.cells}
    assert cells["payments:down"].passed
    assert cells["payments:down"].affected == ("checkout",)
    problems = next(j for j in cells["payments:latency"].journeys if j.journey == "checkout")
    assert any(p.startswith("not fast: p95") for p in problems.problems)
    assert any("unexpected failure kinds {'ReadTimeout'" in p for p in problems.problems)


def test_the_entry_point_down_needs_no_answer() -> None:
    load = Load(4)
    cells = [c for c in CELLS if c.id == "gateway:down"]
    attempts = timeline(load, cells)
    for journey in BASE:
        load.add(journey, fault_seconds(attempts, "gateway:down"), error_rate=1.0,
                 error="ConnectionError", failed_ms=1)  # fmt: skip
    assert judge(load, attempts, cells).outcome is Outcome.HELD


def test_a_failure_must_reproduce_unless_it_is_final() -> None:
    load = Load(5)
    cells = [c for c in CELLS if c.id in ("catalog:down", "payments/0:kill")]
    attempts = timeline(load, cells, attempts=2)
    load.add("checkout", fault_seconds(attempts, "catalog:down", 0), median_ms=300)  # a hiccup
    verdict = judge(load, attempts, cells)
    catalog = next(c for c in verdict.cells if c.cell.id == "catalog:down")
    assert catalog.passed and catalog.reproduced is False and catalog.shown.passed
    load.add("checkout", fault_seconds(attempts, "catalog:down", 1), median_ms=300)  # again
    catalog = next(c for c in judge(load, attempts, cells).cells if c.cell.id == "catalog:down")
    assert not catalog.passed and catalog.reproduced is True
    windows, _ = attempts["payments/0:kill"][0]
    attempts["payments/0:kill"][0] = (windows, CellRecord(("invariants violated",), final=True))
    kill = next(c for c in judge(load, attempts, cells).cells if c.cell.id == "payments/0:kill")
    assert not kill.passed and kill.record.problems == ("invariants violated",)


def test_a_journey_at_four_a_second_is_compared_and_one_too_rare_is_listed() -> None:
    # The shop's checkout runs at 4/s: 12 requests in a 3 s window. With a floor of 20 it was
    # compared in no cell, and a fault that slowed it within its SLO went unseen.
    load = Load(3)
    cells = [c for c in RUN if c.id in ("catalog:latency", "payments/0:pause")]
    seconds = range(BASELINE + CELL_SECONDS * len(cells) + 5)
    load.add("browse", seconds, median_ms=BASE["browse"], per_second=12)
    load.add("product", seconds, median_ms=BASE["product"], per_second=3)  # 9 per window
    attempts = {
        cell.id: [
            (
                CellWindows(
                    WindowSet.of("baseline", [Window("b", T0, T0 + BASELINE)]),
                    Window("fault", T0 + start, T0 + start + 3),
                    Window("recovery", T0 + start + 3, T0 + start + CELL_SECONDS),
                ),
                CellRecord(),
            )
        ]
        for cell, start in zip(
            cells, range(BASELINE, BASELINE + CELL_SECONDS * len(cells), CELL_SECONDS), strict=True
        )
    }
    # catalog is slow; the bug: checkout, which never calls catalog, answers 4x slower - still
    # within its 800 ms SLO, so only the comparison with the baseline can see it
    slowed = fault_seconds(attempts, "catalog:latency")
    for second in seconds:
        median = BASE["checkout"] * (4 if second in slowed else 1)
        load.add("checkout", range(second, second + 1), median_ms=median, per_second=4)
    verdict = judge(load, attempts, cells)
    failed = {c.cell.id: c for c in verdict.failed}
    assert set(failed) == {"catalog:latency"}
    assert failed["catalog:latency"].unexpected == ("checkout",)
    # product (9 requests a window) cannot be compared where it is claimed unaffected: listed
    assert verdict.uncompared == {"product": ("payments/0:pause",)}
    assert verdict.to_json()["uncompared"] == {"product": ["payments/0:pause"]}
    result = MatrixResult(Path("run"), SPEC, cells, "completed", verdict)
    assert (
        "- **product**: fewer than 10 requests in the fault window of 1 cell(s) "
        "(`payments/0:pause`): only its SLO was checked there" in summary_markdown(result)
    )


def test_a_failure_reproduces_only_on_the_same_journey() -> None:
    # Two attempts that each failed, but on different journeys, are two hiccups: the cell
    # passes, and nothing of either attempt is reported as the cell's problem.
    load = Load(6)
    cells = [c for c in CELLS if c.id == "catalog:down"]
    attempts = timeline(load, cells, attempts=2)
    load.add("checkout", fault_seconds(attempts, "catalog:down", 0), median_ms=300)
    windows, _ = attempts["catalog:down"][1]
    attempts["catalog:down"][1] = (windows, CellRecord(("hostile input: 1 of 28 answers 5xx",)))
    (cell,) = judge(load, attempts, cells).cells
    assert not cell.attempts[0].passed and not cell.attempts[1].passed
    assert cell.passed and cell.reproduced is False
    assert cell.problems == () and cell.unexpected == ()
    assert cell.to_json()["problems"] == []
    # the same journey in both attempts: it stands, named once, with its numbers
    load.add("checkout", fault_seconds(attempts, "catalog:down", 1), median_ms=300)
    (cell,) = judge(load, attempts, cells).cells
    assert not cell.passed and cell.reproduced is True
    assert cell.unexpected == ("checkout",)
    assert [p.split(":")[0] for p in cell.problems] == ["checkout"]  # not the hostile hiccup
