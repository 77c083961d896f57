"""Judging an experiment from its load samples: SLOs per window, baseline-vs-fault statistics,
and the time each journey took to recover. Pure: samples and windows in, verdicts out.

For each journey the hypothesis names:

- **SLO** in each window (baseline, fault, recovery), from the system file's thresholds.
- **Deviation** (steady journeys): the fault window is compared with the baseline — latency
  with a one-sided Mann-Whitney U test, errors with a one-sided Fisher exact test. A journey
  deviates only when a difference is both significant (p < alpha) and larger than the
  hypothesis tolerates, so noise is not a finding and a trivial shift is not a failure.
- **Degradation** (degraded journeys): answers must be fast (p95 of every request, failed or
  not, under `max_latency`) and failures of the allowed kinds (`errors`: status codes or
  exception names).
- **Recovery**: seconds after the fault was removed until the rest of the recovery window
  meets the SLO; must be within `recover_within` when the hypothesis sets it.

A baseline that already misses its SLO makes the whole verdict NOT_STEADY: nothing can be
concluded about the fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from chaos.experiment.model import RECOVERY_SETTLE_S, Degraded, Hypothesis
from chaos.judgement.slo import Check, evaluate
from chaos.judgement.statistics import ALPHA, Comparison, adjust, compare
from loadtests.slo import SloSpec
from loadtests.windows import SampleSet, Window, WindowStats


class Outcome(Enum):
    """The experiment's result, with its exit code."""

    HELD = ("held", 0)
    REJECTED = ("rejected", 1)
    NOT_STEADY = ("not steady before the fault", 3)
    INVARIANTS_VIOLATED = ("invariants violated", 4)

    @property
    def label(self) -> str:
        """Human text."""
        return self.value[0]

    @property
    def exit_code(self) -> int:
        """The process exit code for this outcome."""
        return self.value[1]


@dataclass(frozen=True)
class Phases:
    """The judged windows of one run (unix seconds)."""

    baseline: Window
    fault: Window
    recovery: Window

    @property
    def all(self) -> tuple[Window, Window, Window]:
        """Baseline, fault, recovery."""
        return (self.baseline, self.fault, self.recovery)


@dataclass(frozen=True)
class JourneyVerdict:
    """Everything judged about one journey."""

    journey: str
    role: str  # "steady" or "degraded"
    checks: tuple[Check, ...]  # SLO checks in baseline, fault and recovery
    comparison: Comparison
    recovered_after_s: float | None  # None: not back within SLO by the end of recovery
    fault_errors: dict[str, int] = field(default_factory=dict)
    fault_failed_p95_ms: float | None = None
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the hypothesis held for this journey."""
        return not self.problems

    def slo_met(self, window: str) -> bool:
        """True when every SLO check of `window` passed."""
        return all(c.passed for c in self.checks if c.window.name == window)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, for journal.json."""
        return {
            "journey": self.journey,
            "role": self.role,
            "passed": self.passed,
            "problems": list(self.problems),
            "slo": {name: self.slo_met(name) for name in ("baseline", "fault", "recovery")},
            "recovered_after_s": self.recovered_after_s,
            "fault_errors": self.fault_errors,
            "fault_failed_p95_ms": self.fault_failed_p95_ms,
            "comparison": vars(self.comparison),
            "checks": [
                {
                    "window": c.window.name,
                    "metric": c.metric,
                    "limit": c.limit,
                    "observed": c.observed,
                    "passed": c.passed,
                }
                for c in self.checks
            ],
        }


@dataclass(frozen=True)
class ExperimentVerdict:
    """The verdict of one run."""

    outcome: Outcome
    journeys: tuple[JourneyVerdict, ...]
    steady_before: bool
    notes: tuple[str, ...] = ()

    @property
    def deviated(self) -> bool:
        """True when any journey did not behave as the hypothesis says."""
        return any(not j.passed for j in self.journeys)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, for journal.json."""
        return {
            "outcome": self.outcome.label,
            "exit_code": self.outcome.exit_code,
            "steady_before": self.steady_before,
            "deviated": self.deviated,
            "notes": list(self.notes),
            "journeys": [j.to_json() for j in self.journeys],
        }


def time_to_recover(
    samples: SampleSet,
    journey: str,
    slo: SloSpec,
    recovery: Window,
    *,
    settle: float = RECOVERY_SETTLE_S,
) -> float | None:
    """Seconds after `recovery.start` from which the rest of the window meets the SLO.

    The rest must be at least `settle` seconds long, so one good second is not a recovery.
    """
    offset = 0.0
    while recovery.start + offset + settle <= recovery.end:
        rest = Window("recovery", recovery.start + offset, recovery.end)
        checks = journey_checks(slo, samples, journey, [rest])
        if checks and all(c.passed for c in checks):
            return offset
        offset += 1.0
    return None


def journey_checks(
    slo: SloSpec, samples: SampleSet, journey: str, windows: list[Window]
) -> tuple[Check, ...]:
    return tuple(c for c in evaluate(slo, samples, windows=windows).checks if c.journey == journey)


def _degradation_problems(limits: Degraded, fault: WindowStats) -> list[str]:
    problems: list[str] = []
    p95 = fault.percentile_ms(95)  # all requests: failing slowly and succeeding slowly both count
    limit = limits.max_latency_ms
    if limit is not None and p95 is not None and p95 > limit:
        failed_p95 = fault.percentile_ms(95, "failed")
        detail = "" if failed_p95 is None else f", failed requests p95 {failed_p95:.0f}ms"
        problems.append(
            f"not fast: p95 {p95:.0f}ms > {limit:.0f}ms during the fault{detail} "
            "(a degraded journey must answer quickly, even if with an error)"
        )
    unexpected = {k: n for k, n in fault.errors.items() if not limits.allows(k)}
    if unexpected:
        allowed = ", ".join(limits.errors) if limits.errors else "HTTP error answers"
        problems.append(f"unexpected failure kinds {unexpected} (allowed: {allowed})")
    return problems


@dataclass(frozen=True)
class Tolerances:
    """How far a steady journey may move before it deviates, and the significance level."""

    latency: float = 1.5  # p95 ratio fault / baseline
    median: float | None = None  # p50 ratio (default: `latency`); the median is steadier
    errors: float = 0.01  # error-rate increase
    alpha: float = ALPHA  # for q-values when comparisons were adjusted, else p-values
    recover_within: float | None = None  # seconds; None: recovery is reported, not judged


def judge_journey(
    journey: str,
    *,
    degraded: Degraded | None,
    checks: tuple[Check, ...],
    comparison: Comparison,
    fault: WindowStats,
    recovered: float | None,
    tolerances: Tolerances,
    baseline_slo: bool = True,
) -> JourneyVerdict:
    """The verdict on one journey: steady (`degraded` is None) or allowed to degrade.

    `baseline_slo`: a baseline outside the SLO is this journey's problem (an experiment's one
    baseline); the matrix checks its steady state once, before the first cell, instead.
    """
    problems: list[str] = []
    if baseline_slo and not all(c.passed for c in checks if c.window.name == "baseline"):
        problems.append("outside its SLO in the baseline, before any fault")
    if degraded is not None:
        problems += _degradation_problems(degraded, fault)
    else:
        breaches = [c for c in checks if c.window.name == "fault" and not c.passed]
        problems += [f"fault window: {c.metric} {c.limit}, observed {c.observed}" for c in breaches]
        if comparison.latency_deviates(tolerances.latency, tolerances.alpha, tolerances.median):
            problems.append(f"latency deviated: {comparison.latency_change()}")
        if comparison.errors_deviate(tolerances.errors, tolerances.alpha):
            problems.append(f"errors deviated: {comparison.error_change()}")
    if tolerances.recover_within is not None and (
        recovered is None or recovered > tolerances.recover_within
    ):
        took = "did not recover" if recovered is None else f"took {recovered:.0f}s"
        problems.append(
            f"recovery: {took} to meet its SLO again (allowed {tolerances.recover_within:.0f}s)"
        )
    return JourneyVerdict(
        journey=journey,
        role="degraded" if degraded is not None else "steady",
        checks=checks,
        comparison=comparison,
        recovered_after_s=recovered,
        fault_errors=dict(fault.errors),
        fault_failed_p95_ms=fault.percentile_ms(95, "failed"),
        problems=tuple(problems),
    )


def judge(
    hypothesis: Hypothesis, slo: SloSpec, samples: SampleSet, phases: Phases
) -> ExperimentVerdict:
    """The verdict on every journey of `hypothesis`, and the outcome.

    The steady journeys' p-values are adjusted together (Benjamini-Hochberg), as in a matrix.
    """
    degraded = {d.journey: d for d in hypothesis.degraded}
    journeys = hypothesis.steady + tuple(degraded)
    faults = {j: samples.stats(j, phases.fault) for j in journeys}
    comparisons = {j: compare(samples.stats(j, phases.baseline), faults[j]) for j in journeys}
    steady = [j for j in journeys if j not in degraded]
    comparisons.update(zip(steady, adjust([comparisons[j] for j in steady]), strict=True))
    tolerances = Tolerances(
        latency=hypothesis.latency_tolerance,
        errors=hypothesis.error_tolerance,
        recover_within=hypothesis.recover_within,
    )
    verdicts = tuple(
        judge_journey(
            journey,
            degraded=degraded.get(journey),
            checks=journey_checks(slo, samples, journey, list(phases.all)),
            comparison=comparisons[journey],
            fault=faults[journey],
            recovered=time_to_recover(samples, journey, slo, phases.recovery),
            tolerances=tolerances,
        )
        for journey in journeys
    )
    steady_before = all(v.slo_met("baseline") for v in verdicts)
    if not steady_before:
        outcome = Outcome.NOT_STEADY
    elif all(v.passed for v in verdicts):
        outcome = Outcome.HELD
    else:
        outcome = Outcome.REJECTED
    return ExperimentVerdict(outcome=outcome, journeys=verdicts, steady_before=steady_before)
