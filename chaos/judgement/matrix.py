"""Judging a fault-isolation matrix: every cell, every journey, one false-discovery budget. Pure.

Each cell that ran has three windows: the baseline it is compared with (the most recent
quiet seconds before it), its fault window and its recovery (from the removal of the fault
until the next cell). Per journey, the claim of the cell decides what is checked:

- **unaffected**: SLO in the fault window, and no significant latency (p95 or median) or error
  deviation beyond the tolerances — the same test as an experiment's steady journeys;
- **degraded**: it may fail, but fast (p95 within its deadline) and only with HTTP answers
  (a request that got no answer at all — a timeout, a reset — is not a clear error);
- **both**: back within its SLO within `recover_within` seconds of the removal.

All p-values of all cells are adjusted together (Benjamini-Hochberg): with many cells and
journeys, the expected share of false alarms among the deviations found stays at
`false_discovery_rate`, so a healthy system does not fail CI by chance.

A cell that is `same as` another is judged on that cell's windows with its own claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaos.experiment.model import Degraded
from chaos.judgement.statistics import Comparison, adjust, compare
from chaos.judgement.verdict import (
    JourneyVerdict,
    Outcome,
    Tolerances,
    journey_checks,
    judge_journey,
    time_to_recover,
)
from chaos.matrix.expectations import Claim, Finding
from chaos.matrix.plan import Cell
from chaos.system.model import MatrixSettings
from loadtests.slo import SloSpec
from loadtests.windows import SampleSet, Window, WindowStats


@dataclass(frozen=True)
class CellWindows:
    """The judged windows of one cell that ran (unix seconds, whole seconds only)."""

    baseline: Window
    fault: Window
    recovery: Window

    def to_json(self) -> dict[str, list[float]]:
        """JSON-ready."""
        return {w.name: [w.start, w.end] for w in (self.baseline, self.fault, self.recovery)}


@dataclass(frozen=True)
class CellRecord:
    """What the runner observed of one cell beyond the load: hostile input, invariants."""

    problems: tuple[str, ...] = ()  # e.g. "hostile input: 3 answers were 5xx: ..."
    notes: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CellVerdict:
    """The verdict on one cell: each journey against its claim, and the cell's own problems."""

    cell: Cell
    claims: tuple[Claim, ...]
    journeys: tuple[JourneyVerdict, ...]
    windows: CellWindows | None
    record: CellRecord = field(default_factory=CellRecord)

    @property
    def passed(self) -> bool:
        """True when every journey behaved as claimed and the cell had no problem of its own."""
        return all(j.passed for j in self.journeys) and not self.record.problems

    @property
    def affected(self) -> tuple[str, ...]:
        """Journeys that moved during the fault (the blast radius), whatever was expected."""
        return tuple(j.journey for j in self.journeys if _moved(j))

    @property
    def unexpected(self) -> tuple[str, ...]:
        """Journeys claimed unaffected that were not (the isolation failures)."""
        claims = {c.journey: c for c in self.claims}
        return tuple(
            j.journey
            for j in self.journeys
            if not j.passed and claims[j.journey].role == "unaffected"
        )

    def claim(self, journey: str) -> Claim:
        """The claim on `journey`."""
        return next(c for c in self.claims if c.journey == journey)


@dataclass(frozen=True)
class MatrixVerdict:
    """Every cell's verdict, the call-graph findings, and the outcome of the whole matrix."""

    cells: tuple[CellVerdict, ...]
    skipped: tuple[Cell, ...]
    findings: tuple[Finding, ...]
    comparisons: int  # p-values adjusted together
    outcome: Outcome

    @property
    def failed(self) -> tuple[CellVerdict, ...]:
        """The cells whose claims did not hold."""
        return tuple(c for c in self.cells if not c.passed)


def _moved(verdict: JourneyVerdict) -> bool:
    c = verdict.comparison
    return not verdict.passed or (
        verdict.role == "degraded" and (c.fault_error_rate > c.baseline_error_rate + 0.01)
    )


def degraded_limits(journey: str, settings: MatrixSettings, slo: SloSpec) -> Degraded:
    """What a degraded journey must still do: answer within its deadline, with HTTP errors.

    The deadline is `matrix.deadlines[journey]`, else the journey's largest latency objective.
    """
    deadline = settings.deadlines.get(journey)
    if deadline is None:
        objectives = slo.for_journey(journey)
        limits = [
            o.limit
            for o in (objectives.objectives if objectives else ())
            if o.percentile is not None
        ]
        deadline = max(limits, default=None)
    return Degraded(journey, max_latency_ms=deadline, answers_only=True)


def judge_matrix(
    cells: Sequence[Cell],
    claims: Mapping[str, tuple[Claim, ...]],
    windows: Mapping[str, CellWindows],
    records: Mapping[str, CellRecord],
    samples: SampleSet,
    slo: SloSpec,
    settings: MatrixSettings,
    findings: Sequence[Finding] = (),
    *,
    steady_before: bool = True,
) -> MatrixVerdict:
    """The verdict on every cell that ran (or ran as another cell), and the outcome."""
    judged = [c for c in cells if (c.same_as or c.id) in windows]
    stats: dict[tuple[str, str], tuple[WindowStats, Comparison]] = {}
    for cell in judged:
        cell_windows = windows[cell.same_as or cell.id]
        for claim in claims[cell.id]:
            fault = samples.stats(claim.journey, cell_windows.fault)
            baseline = samples.stats(claim.journey, cell_windows.baseline)
            stats[cell.id, claim.journey] = (fault, compare(baseline, fault))
    # One false-discovery budget over the journeys claimed unaffected, in every cell.
    tested = [
        key for key in stats if next(c for c in claims[key[0]] if c.journey == key[1]).role
        == "unaffected"
    ]
    adjusted = dict(zip(tested, adjust([stats[k][1] for k in tested]), strict=True))
    tolerances = Tolerances(
        latency=settings.latency_tolerance,
        errors=settings.error_tolerance,
        alpha=settings.false_discovery_rate,
        recover_within=settings.recover_within,
    )
    verdicts = []
    for cell in judged:
        cell_windows = windows[cell.same_as or cell.id]
        journeys = []
        for claim in claims[cell.id]:
            fault, comparison = stats[cell.id, claim.journey]
            journeys.append(
                judge_journey(
                    claim.journey,
                    degraded=degraded_limits(claim.journey, settings, slo)
                    if claim.role == "degraded"
                    else None,
                    checks=journey_checks(
                        slo,
                        samples,
                        claim.journey,
                        [cell_windows.baseline, cell_windows.fault, cell_windows.recovery],
                    ),
                    comparison=adjusted.get((cell.id, claim.journey), comparison),
                    fault=fault,
                    recovered=time_to_recover(
                        samples, claim.journey, slo, cell_windows.recovery, settle=settings.settle
                    ),
                    tolerances=tolerances,
                )
            )
        verdicts.append(
            CellVerdict(
                cell,
                claims[cell.id],
                tuple(journeys),
                cell_windows,
                records.get(cell.same_as or cell.id, CellRecord()),
            )
        )
    if not steady_before:
        outcome = Outcome.NOT_STEADY
    elif all(v.passed for v in verdicts):
        outcome = Outcome.HELD
    else:
        outcome = Outcome.REJECTED
    return MatrixVerdict(
        cells=tuple(verdicts),
        skipped=tuple(c for c in cells if c not in judged),
        findings=tuple(findings),
        comparisons=sum(
            (c.latency_p_value is not None) + (c.error_p_value is not None)
            for c in adjusted.values()
        ),
        outcome=outcome,
    )
