"""The capacity search: the highest arrival rate at which a journey still meets its SLO. Pure.

    search = KneeSearch(start=5.0)
    while (rate := search.next_rate(steps)) is not None:
        steps.append(measure(rate))            # one judged step at `rate` (the I/O edge)
    capacity(steps)                            # the highest passing rate below every failure

Step up by `factor` from `start` until a step fails (or down from `start` until one passes),
then bisect between the highest pass and the lowest failure until they are within
`tolerance` of each other. A pass above a failure (noise near the knee) never raises the
capacity above the failure: the result is conservative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One judged step of the search."""

    rate: float  # offered arrivals per second
    passed: bool
    achieved: float = 0.0  # completed requests per second
    p95_ms: float | None = None
    error_rate: float = 0.0
    late: float = 0.0  # fraction of arrivals the load generator started late
    reasons: tuple[str, ...] = ()
    started: float = 0.0
    ended: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (for journal.json)."""
        return {
            "rate": self.rate,
            "passed": self.passed,
            "achieved": self.achieved,
            "p95_ms": self.p95_ms,
            "error_rate": self.error_rate,
            "late": self.late,
            "reasons": list(self.reasons),
            "started": self.started,
            "ended": self.ended,
            **self.detail,
        }


def bracket(steps: Sequence[Step]) -> tuple[float | None, float | None]:
    """(highest pass below the lowest failure, lowest failure); None where there is none."""
    failures = [s.rate for s in steps if not s.passed]
    low_fail = min(failures) if failures else None
    passes = [s.rate for s in steps if s.passed and (low_fail is None or s.rate < low_fail)]
    return (max(passes) if passes else None), low_fail


def capacity(steps: Sequence[Step]) -> float | None:
    """The measured capacity: the highest passing rate below every failing one."""
    return bracket(steps)[0]


@dataclass(frozen=True, kw_only=True)
class KneeSearch:
    """Where to measure next; `next_rate` returns None once the knee is bracketed."""

    start: float
    factor: float = 1.5
    tolerance: float = 0.05
    max_steps: int = 14
    floor: float = 0.5
    ceiling: float = 10_000.0

    def __post_init__(self) -> None:
        if not self.floor <= self.start <= self.ceiling:
            raise ValueError(
                f"start rate {self.start:g}/s must be within [{self.floor:g}, {self.ceiling:g}]"
            )
        if self.factor <= 1 or not 0 < self.tolerance < 1:
            raise ValueError(
                f"factor must be > 1 and tolerance in (0, 1), got {self.factor}, {self.tolerance}"
            )

    def next_rate(self, steps: Sequence[Step]) -> float | None:
        """The next rate to try, or None when the search is done."""
        if not steps:
            return self.start
        if len(steps) >= self.max_steps:
            return None
        low, high = bracket(steps)
        if high is None:  # every step passed: climb
            top = max(s.rate for s in steps)
            return None if top >= self.ceiling else min(self.ceiling, top * self.factor)
        if low is None:  # every step below `high` failed: descend
            bottom = min(s.rate for s in steps)
            return None if bottom <= self.floor else max(self.floor, bottom / self.factor)
        if (high - low) / low <= self.tolerance:
            return None
        return round((low + high) / 2, 3)
