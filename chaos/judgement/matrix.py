"""Judging a fault-isolation matrix: every cell, every journey, one false-discovery budget. Pure.

Each run of a cell (an *attempt*) has three windows: the baseline it is compared with (the
most recent quiet seconds before it), its fault window and its recovery (from the removal
of the fault until the next cell). Per journey, the claim of the cell decides what is
checked:

- **unaffected**: SLO in the fault window, and no significant latency (p95 or median) or error
  deviation beyond the tolerances — the same test as an experiment's steady journeys;
- **degraded**: it may fail, but fast (p95 within its deadline) and only with HTTP answers
  (a request that got no answer at all — a timeout, a reset — is not a clear error);
- **both**: back within its SLO within `recover_within` seconds of the removal.

All p-values of all attempts are adjusted together (Benjamini-Hochberg): with many cells and
journeys, the expected share of false alarms among the deviations found stays at
`false_discovery_rate`, so a healthy system does not fail CI by chance.

A failure must reproduce: the runner runs a failed cell once more, and the cell fails only
when the same journey (or the same runner's check, such as hostile input's answers) failed in
every attempt. Statistics assume the load's conditions are the same in the
baseline and the fault window; on a shared machine a second of CPU starvation breaks that,
and a real isolation bug shows again where a hiccup does not. Problems that are not
statistics — invariants violated after a kill — fail the cell at once.

A cell that is `same as` another is judged on that cell's attempts with its own claims.
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
from loadtests.windows import SampleSet, Window, WindowSet, WindowStats

RUNNER = "(runner)"  # stands for an attempt's own problems among the journeys that failed


@dataclass(frozen=True)
class CellWindows:
    """The judged windows of one attempt (unix seconds, whole seconds only)."""

    baseline: Window
    fault: Window
    recovery: Window

    def to_json(self) -> dict[str, list[float]]:
        """JSON-ready."""
        return {w.name: [w.start, w.end] for w in (self.baseline, self.fault, self.recovery)}


def _parts(window: Window) -> tuple[Window, ...]:
    return window.parts if isinstance(window, WindowSet) else (window,)


@dataclass(frozen=True)
class CellRecord:
    """What the runner observed of one attempt beyond the load: hostile input, invariants."""

    problems: tuple[str, ...] = ()  # e.g. "hostile input: 3 answers were 5xx: ..."
    final: bool = False  # a problem that fails the cell at once (invariants violated)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One run of a cell: each journey against its claim, and what the runner saw."""

    journeys: tuple[JourneyVerdict, ...]
    windows: CellWindows
    record: CellRecord

    @property
    def passed(self) -> bool:
        """True when every journey behaved as claimed and nothing else went wrong."""
        return all(j.passed for j in self.journeys) and not self.record.problems


@dataclass(frozen=True)
class CellVerdict:
    """The verdict on one cell over its attempts (a failure must reproduce)."""

    cell: Cell
    claims: tuple[Claim, ...]
    attempts: tuple[Attempt, ...]

    @property
    def reproduced_failures(self) -> frozenset[str]:
        """What failed in every attempt: journeys, and RUNNER for the runner's own problems
        (hostile input's 5xx answers). A failure must reproduce *itself*: two attempts that
        each failed, but on different journeys, are two hiccups, not one finding."""
        failing = [
            frozenset(j.journey for j in a.journeys if not j.passed)
            | (frozenset({RUNNER}) if a.record.problems else frozenset())
            for a in self.attempts
        ]
        return frozenset.intersection(*failing) if failing else frozenset()

    @property
    def passed(self) -> bool:
        """True when nothing failed in every attempt and no attempt had a final problem."""
        if any(a.record.final for a in self.attempts):
            return False
        return not self.reproduced_failures

    @property
    def shown(self) -> Attempt:
        """The attempt that stands for the cell: a passing one if there is one, else the one
        with a final problem, else the last (for a passed cell) or the first."""
        if self.passed:
            return next((a for a in self.attempts if a.passed), self.attempts[-1])
        return next((a for a in self.attempts if a.record.final), self.attempts[0])

    @property
    def journeys(self) -> tuple[JourneyVerdict, ...]:
        """The journeys of the attempt that stands for the cell."""
        return self.shown.journeys

    @property
    def record(self) -> CellRecord:
        """The runner's record of the attempt that stands for the cell."""
        return self.shown.record

    @property
    def reproduced(self) -> bool | None:
        """For a cell that failed once: did the same failure come again? None with a single
        attempt."""
        return None if len(self.attempts) < 2 else bool(self.reproduced_failures)

    @property
    def affected(self) -> tuple[str, ...]:
        """Journeys that moved during the fault (the blast radius), whatever was expected."""
        return tuple(j.journey for j in self.journeys if _moved(j))

    @property
    def unexpected(self) -> tuple[str, ...]:
        """Journeys claimed unaffected that failed in every attempt (the isolation failures)."""
        return tuple(
            j.journey
            for j in self.journeys
            if j.journey in self.reproduced_failures and self.claim(j.journey).role == "unaffected"
        )

    def stands(self, journey: str) -> bool:
        """Whether `journey`'s problems in the attempt shown are the cell's: a final problem
        stands for every journey, else only what failed in every attempt."""
        return self.record.final or journey in self.reproduced_failures

    @property
    def problems(self) -> tuple[str, ...]:
        """The cell's problems that stand, from the attempt shown: `journey: problem` lines,
        then the runner's own (hostile input, invariants)."""
        lines = [
            f"{j.journey}: {problem}"
            for j in self.journeys
            if self.stands(j.journey)
            for problem in j.problems
        ]
        return (*lines, *self.runner_problems)

    @property
    def runner_problems(self) -> tuple[str, ...]:
        """The runner's own problems of the attempt shown (hostile input, invariants), if they
        stand: final, or found in every attempt."""
        if self.record.final or RUNNER in self.reproduced_failures:
            return self.record.problems
        return ()

    def claim(self, journey: str) -> Claim:
        """The claim on `journey`."""
        return next(c for c in self.claims if c.journey == journey)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, for journal.json and the report."""
        return {
            "id": self.cell.id,
            "target": str(self.cell.target),
            "kind": self.cell.kind,
            "same_as": self.cell.same_as,
            "passed": self.passed,
            "reproduced": self.reproduced,
            "shown": self.attempts.index(self.shown),  # the attempt that stands for the cell
            "affected": list(self.affected),
            "unexpected": list(self.unexpected),
            "problems": list(self.problems),  # what stands: reproduced, or final
            "claims": [
                {"journey": c.journey, "role": c.role, "source": c.source} for c in self.claims
            ],
            "attempts": [
                {
                    "passed": a.passed,
                    "final": a.record.final,
                    "windows": a.windows.to_json(),
                    "baseline_parts": [[p.start, p.end] for p in _parts(a.windows.baseline)],
                    "problems": list(a.record.problems),
                    "details": dict(a.record.details),
                    "journeys": [
                        {**j.to_json(), "role": self.claim(j.journey).role} for j in a.journeys
                    ],
                }
                for a in self.attempts
            ],
        }


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

    @property
    def uncompared(self) -> dict[str, tuple[str, ...]]:
        """Per journey, the cells where it was claimed unaffected but had too few requests in
        the fault window to be compared with the baseline (only its SLO was checked there)."""
        found: dict[str, list[str]] = {}
        for cell in self.cells:
            for attempt in cell.attempts:
                for journey in attempt.journeys:
                    if (
                        cell.claim(journey.journey).role == "unaffected"
                        and journey.comparison.latency_p_value is None
                        and cell.cell.id not in found.get(journey.journey, ())
                    ):
                        found.setdefault(journey.journey, []).append(cell.cell.id)
        return {journey: tuple(cells) for journey, cells in found.items()}

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, for journal.json and the report."""
        return {
            "outcome": self.outcome.label,
            "exit_code": self.outcome.exit_code,
            "comparisons": self.comparisons,
            "cells": [c.to_json() for c in self.cells],
            "skipped": [{"id": c.id, "reason": c.skip} for c in self.skipped],
            "findings": [f.to_json() for f in self.findings],
            "uncompared": {journey: list(cells) for journey, cells in self.uncompared.items()},
        }


def _moved(verdict: JourneyVerdict) -> bool:
    c = verdict.comparison
    return not verdict.passed or (
        verdict.role == "degraded" and (c.fault_error_rate > c.baseline_error_rate + 0.01)
    )


def degraded_limits(
    journey: str, settings: MatrixSettings, slo: SloSpec, *, answers: bool = True
) -> Degraded:
    """What a degraded journey must still do: answer within its deadline, with HTTP errors
    (`answers`; not when the entry point itself is down: nothing is there to answer).

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
    return Degraded(journey, max_latency_ms=deadline, answers_only=answers)


def judge_matrix(
    cells: Sequence[Cell],
    claims: Mapping[str, tuple[Claim, ...]],
    attempts: Mapping[str, Sequence[tuple[CellWindows, CellRecord]]],
    samples: SampleSet,
    slo: SloSpec,
    settings: MatrixSettings,
    findings: Sequence[Finding] = (),
    *,
    entry_points: Sequence[str] = (),
    steady_before: bool = True,
) -> MatrixVerdict:
    """The verdict on every cell that ran (or ran as another cell), and the outcome.

    `attempts` maps the id of each cell that was injected to its runs, in order;
    `entry_points` are the public services (their own faults leave no one to answer).
    """
    judged = [c for c in cells if attempts.get(c.same_as or c.id)]
    stats: dict[tuple[str, int, str], tuple[WindowStats, Comparison]] = {}
    for cell in judged:
        for number, (windows, _) in enumerate(attempts[cell.same_as or cell.id]):
            for claim in claims[cell.id]:
                fault = samples.stats(claim.journey, windows.fault)
                baseline = samples.stats(claim.journey, windows.baseline)
                stats[cell.id, number, claim.journey] = (fault, compare(baseline, fault))
    # One false-discovery budget over the journeys claimed unaffected, in every attempt.
    roles = {(cell.id, c.journey): c.role for cell in judged for c in claims[cell.id]}
    tested = [key for key in stats if roles[key[0], key[2]] == "unaffected"]
    adjusted = dict(zip(tested, adjust([stats[k][1] for k in tested]), strict=True))
    tolerances = Tolerances(
        latency=settings.latency_tolerance,
        median=settings.median_tolerance,
        errors=settings.error_tolerance,
        alpha=settings.false_discovery_rate,
        recover_within=settings.recover_within,
    )
    verdicts = []
    for cell in judged:
        runs = []
        for number, (windows, record) in enumerate(attempts[cell.same_as or cell.id]):
            journeys = []
            for claim in claims[cell.id]:
                fault, comparison = stats[cell.id, number, claim.journey]
                journeys.append(
                    judge_journey(
                        claim.journey,
                        degraded=degraded_limits(
                            claim.journey,
                            settings,
                            slo,
                            answers=cell.target.service not in entry_points
                            or cell.kind == "hostile_input",
                        )
                        if claim.role == "degraded"
                        else None,
                        checks=journey_checks(
                            slo,
                            samples,
                            claim.journey,
                            [windows.baseline, windows.fault, windows.recovery],
                        ),
                        comparison=adjusted.get((cell.id, number, claim.journey), comparison),
                        fault=fault,
                        recovered=time_to_recover(
                            samples, claim.journey, slo, windows.recovery, settle=settings.settle
                        ),
                        tolerances=tolerances,
                        baseline_slo=False,
                    )
                )
            runs.append(Attempt(tuple(journeys), windows, record))
        verdicts.append(CellVerdict(cell, claims[cell.id], tuple(runs)))
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
        comparisons=sum(p is not None for c in adjusted.values() for p in c.p_values()),
        outcome=outcome,
    )
