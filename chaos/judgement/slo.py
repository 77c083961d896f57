"""Evaluating SLO thresholds against samples: for the whole run, per window, or per phase.

    verdict = evaluate(load_slo("slo.yaml"), read_run(run_dir))            # run + spec windows
    verdict = evaluate(spec, samples, windows=[baseline, fault, recovery])   # chaos phases
    verdict.passed, verdict.breaches, verdict.format(), verdict.to_json()

A journey named in the SLO file that has no requests in a window fails there (a typo in the
journey name, or a journey that stopped being served, must not pass silently).

Pure: no Locust import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadtests.slo import ANY_JOURNEY, ERROR_RATE, MIN_THROUGHPUT, Objective, SloSpec
from loadtests.windows import SampleSet, Window, WindowStats

EXIT_BREACH = 99  # k6's exit code when thresholds are crossed


@dataclass(frozen=True)
class Check:
    """One objective of one journey in one window, with what was observed."""

    journey: str
    window: Window
    metric: str
    limit: str
    observed: str
    passed: bool
    source: str
    value: float | None = None

    def format(self) -> str:
        """One line: 'BREACH checkout [fault] p99 <= 1.00s: observed 1.92s (slo.yaml:5)'."""
        status = "ok    " if self.passed else "BREACH"
        return (
            f"{status} {self.journey} [{self.window.name}] {self.metric} {self.limit}: "
            f"observed {self.observed} ({self.source})"
        )


@dataclass(frozen=True)
class Verdict:
    """All checks of one evaluation."""

    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """True when no check breached."""
        return all(check.passed for check in self.checks)

    @property
    def breaches(self) -> tuple[Check, ...]:
        """The checks that breached, in evaluation order."""
        return tuple(check for check in self.checks if not check.passed)

    @property
    def exit_code(self) -> int:
        """0 when every threshold holds, else EXIT_BREACH (99, as k6)."""
        return 0 if self.passed else EXIT_BREACH

    def format(self) -> str:
        """A readable report, one check per line, breaches first."""
        ordered = sorted(self.checks, key=lambda c: c.passed)
        head = "SLO met" if self.passed else f"SLO breached ({len(self.breaches)} checks)"
        return "\n".join([head, *(check.format() for check in ordered)])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (written as slo-verdict.json in the run directory)."""
        return {
            "passed": self.passed,
            "exit_code": self.exit_code,
            "checks": [
                {
                    "journey": c.journey,
                    "window": {"name": c.window.name, "start": c.window.start, "end": c.window.end},
                    "metric": c.metric,
                    "limit": c.limit,
                    "observed": c.observed,
                    "value": c.value,
                    "passed": c.passed,
                    "source": c.source,
                }
                for c in self.checks
            ],
        }


def default_windows(spec: SloSpec, samples: SampleSet) -> list[Window]:
    """The run after warm-up, then every full `spec.window_s` window after warm-up."""
    span = samples.span
    if span is None:
        return []
    start = min(span.start + spec.warmup_s, span.end)
    windows = [Window("run", start, span.end)]
    if spec.window_s:
        windows += samples.windows(spec.window_s, start=start)
    return windows


def evaluate(
    spec: SloSpec, samples: SampleSet, windows: Sequence[Window] | None = None
) -> Verdict:
    """Check every journey's objectives in every window (default: `default_windows`)."""
    if windows is None:
        windows = default_windows(spec, samples)
        if not windows:  # nothing was recorded at all: every named journey breaches
            empty = Window("run", 0.0, 0.0)
            return Verdict(tuple(_no_data(j, empty, spec) for j in _journeys(spec, samples)))
    checks: list[Check] = []
    for journey in _journeys(spec, samples):
        slo = spec.for_journey(journey)
        assert slo is not None  # _journeys only yields journeys with an entry
        for window in windows:
            if window.seconds == 0:
                continue
            stats = samples.stats(journey, window)
            if stats.offered == 0:
                checks.append(_no_data(journey, window, spec))
                continue
            checks.extend(_check(journey, window, objective, stats) for objective in slo.objectives)
    return Verdict(tuple(checks))


def _journeys(spec: SloSpec, samples: SampleSet) -> list[str]:
    named = list(spec.named_journeys)
    if any(slo.journey == ANY_JOURNEY for slo in spec.journeys):
        named += [j for j in samples.journeys if j not in named]
    return named


def _no_data(journey: str, window: Window, spec: SloSpec) -> Check:
    slo = spec.for_journey(journey)
    seen = ", ".join(spec.named_journeys) or "none"
    hint = (
        f"no requests; is the journey name right? named in the SLO file: {seen}"
        if slo is not None and slo.journey != ANY_JOURNEY
        else "no requests"
    )
    return Check(
        journey, window, "requests", ">= 1", hint, False, slo.source if slo else spec.source, 0.0
    )


def _check(journey: str, window: Window, objective: Objective, stats: WindowStats) -> Check:
    percentile = objective.percentile
    value: float | None
    if percentile is not None:
        value = stats.percentile_ms(percentile)
    elif objective.metric == ERROR_RATE:
        value = stats.error_rate
    elif objective.metric == MIN_THROUGHPUT:
        value = stats.throughput
    else:  # pragma: no cover - the loader rejects other metrics
        raise ValueError(f"unknown metric {objective.metric!r}")
    if value is None:
        passed, observed = False, "no completed requests"
    else:
        passed = value >= objective.limit if objective.is_minimum else value <= objective.limit
        observed = objective.format_value(value)
    limit = objective.describe().removeprefix(objective.metric + " ")
    return Check(
        journey, window, objective.metric, limit, observed, passed, objective.source, value
    )
