"""Did adding replicas help? A statistical judgement at one fixed probe rate. Pure.

At the same offered rate (above one replica's capacity) the journey's samples with N
replicas are compared with those at one replica: latency with a one-sided Mann-Whitney U
test, errors with a one-sided Fisher exact test (chaos.judgement.statistics). A *gain* needs
significance (p < 0.01) and a size: the one-replica p95 at least `latency_tolerance` x the
N-replica p95 (and 5 ms more), or an error rate `error_tolerance` higher.

The probe and the capacity search are two witnesses, and both must agree:

- **gain**: the probe shows a gain and the capacity is at least `capacity_tolerance` higher;
- **no gain**: neither does (noise is not a finding);
- **inconclusive**: they disagree. Near a knee a system can be bistable — at one offered rate
  it either keeps up or its queues run into the callers' timeouts and half the requests fail
  — so one probe step above one count's capacity can pass or fail by chance. Measure again
  (longer steps, `--step`) rather than trust either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chaos.judgement.statistics import Comparison, compare
from loadtests.windows import WindowStats

LATENCY_TOLERANCE = 1.2
ERROR_TOLERANCE = 0.02
CAPACITY_TOLERANCE = 1.1

GainVerdict = Literal["gain", "no gain", "inconclusive"]


@dataclass(frozen=True)
class Gain:
    """N replicas against one, at the probe rate and by capacity."""

    replicas: int
    capacity_ratio: float | None  # C(N) / C(1)
    comparison: Comparison  # baseline: N replicas; "fault": one replica
    latency_gain: bool
    error_gain: bool

    @property
    def verdict(self) -> GainVerdict:
        """gain, no gain or inconclusive (the probe and the capacities disagree)."""
        by_probe = self.latency_gain or self.error_gain
        if self.capacity_ratio is None:  # no capacity to compare: the probe alone
            return "gain" if by_probe else "no gain"
        by_capacity = self.capacity_ratio >= CAPACITY_TOLERANCE
        if by_probe and by_capacity:
            return "gain"
        return "inconclusive" if by_probe or by_capacity else "no gain"

    @property
    def gained(self) -> bool:
        """True when N replicas are measurably better than one, by both witnesses."""
        return self.verdict == "gain"

    def describe(self) -> str:
        """'gain' or 'no gain', with the figures behind it."""
        c = self.comparison
        ratio = f"{self.capacity_ratio:.2f}" if self.capacity_ratio is not None else "n/a"

        def ms(value: float | None) -> str:
            return f"{value:.0f} ms" if value is not None else "n/a"

        p_lat = f"{c.latency_p_value:.2g}" if c.latency_p_value is not None else "n/a"
        p_err = f"{c.error_p_value:.2g}" if c.error_p_value is not None else "n/a"
        return (
            f"{self.verdict}: capacity x{ratio}; at the probe rate p95 "
            f"{ms(c.fault_p95_ms)} (1 replica) vs {ms(c.baseline_p95_ms)} ({self.replicas}), "
            f"p={p_lat}; errors {c.fault_error_rate:.1%} vs {c.baseline_error_rate:.1%}, "
            f"p={p_err}"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        c = self.comparison
        return {
            "replicas": self.replicas,
            "gained": self.gained,
            "verdict": self.verdict,
            "capacity_ratio": self.capacity_ratio,
            "latency_gain": self.latency_gain,
            "error_gain": self.error_gain,
            "p95_ms_one": c.fault_p95_ms,
            "p95_ms_n": c.baseline_p95_ms,
            "latency_p_value": c.latency_p_value,
            "error_rate_one": c.fault_error_rate,
            "error_rate_n": c.baseline_error_rate,
            "error_p_value": c.error_p_value,
        }


def judge_gain(
    replicas: int,
    one: WindowStats,
    many: WindowStats,
    capacity_ratio: float | None,
) -> Gain:
    """Is the journey at `replicas` replicas better than at one, at the same offered rate?"""
    comparison = compare(baseline=many, fault=one)
    return Gain(
        replicas=replicas,
        capacity_ratio=capacity_ratio,
        comparison=comparison,
        latency_gain=comparison.latency_deviates(LATENCY_TOLERANCE),
        error_gain=comparison.errors_deviate(ERROR_TOLERANCE),
    )
