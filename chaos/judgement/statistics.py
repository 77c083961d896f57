"""Baseline-vs-fault statistics for one journey: is the fault window worse than the baseline?

Latency with a one-sided Mann-Whitney U test over every request's latency (exact, from the
HdrHistogram buckets), errors with a one-sided Fisher exact test. A difference counts only
when it is both significant and larger than the hypothesis tolerates (`Comparison`), so
noise is not a finding and a trivial shift is not a failure.

Latency counts as larger when p95 *or the median* moved beyond the tolerance: a partial
failure (one replica of three, retries that succeed) moves the median before it moves p95.

A location test has little power when only some requests got slower (one replica of three
slow, every third request 200 ms late: the median hardly moves). So p95's rise is also tested
by what it says: more requests than before slower than the baseline's p95 — one-sided Fisher
on those exceedances (`tail_p_value`), held to the same p95 tolerance. Simulated on the shop's
browse journey (12/s, 3 s windows, `benchmarks/matrix_power.py`), one request in three 200 ms
slower is found in 19 % of windows by Mann-Whitney alone and in 78 % with the tail test.

Many comparisons at one significance level make false alarms: `adjust` turns every p-value
of one judgement into a Benjamini-Hochberg q-value (scipy's `false_discovery_control`), so
the expected share of false discoveries among all deviations found stays at the level asked
for, however many cells and journeys are compared. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from loadtests.windows import WindowStats

ALPHA = 0.01  # significance for both tests
MIN_LATENCY_SHIFT_MS = 5.0  # a p95 or p50 rise smaller than this is never called a deviation
# Fewer requests in a window than this: no test (the matrix's summary lists such journeys).
# Both tests stay valid below 20: Fisher's is exact at any size, and Mann-Whitney's normal
# approximation (scipy's, with the tie correction the histogram buckets need) is adequate from
# about ten per group. A floor of 20 left a journey at 4/s (the shop's checkout, 12 requests
# in a 3 s matrix window) compared in no cell at all: only its SLO was checked.
MIN_REQUESTS = 10


@dataclass(frozen=True)
class Comparison:
    """Fault window against baseline, for one journey."""

    baseline_count: int
    fault_count: int
    baseline_p50_ms: float | None
    fault_p50_ms: float | None
    baseline_p95_ms: float | None
    fault_p95_ms: float | None
    latency_p_value: float | None  # one-sided: fault slower than baseline
    baseline_error_rate: float
    fault_error_rate: float
    error_p_value: float | None  # one-sided: fault fails more than baseline
    latency_q_value: float | None = None  # after `adjust`: Benjamini-Hochberg q-values
    error_q_value: float | None = None
    # one-sided: more fault requests than baseline ones slower than the baseline's p95
    tail_p_value: float | None = None
    tail_q_value: float | None = None
    baseline_tail_share: float | None = None  # of requests slower than the baseline's p95
    fault_tail_share: float | None = None

    @property
    def latency_significance(self) -> float | None:
        """The q-value when adjusted, else the p-value."""
        return self.latency_q_value if self.latency_q_value is not None else self.latency_p_value

    @property
    def tail_significance(self) -> float | None:
        """The tail test's q-value when adjusted, else its p-value."""
        return self.tail_q_value if self.tail_q_value is not None else self.tail_p_value

    @property
    def error_significance(self) -> float | None:
        """The q-value when adjusted, else the p-value."""
        return self.error_q_value if self.error_q_value is not None else self.error_p_value

    def p_values(self) -> tuple[float | None, float | None, float | None]:
        """Latency (Mann-Whitney), errors (Fisher) and tail (Fisher): what `adjust` adjusts."""
        return self.latency_p_value, self.error_p_value, self.tail_p_value

    def latency_deviates(
        self, tolerance: float, alpha: float = ALPHA, median_tolerance: float | None = None
    ) -> bool:
        """Significantly slower, and p95 beyond `tolerance` x baseline or the median beyond
        `median_tolerance` (default: the same) x baseline, each by more than 5 ms.

        Significantly: by Mann-Whitney (any of the two), or for p95 by the tail test."""
        median = tolerance if median_tolerance is None else median_tolerance
        p95_beyond = _beyond(self.baseline_p95_ms, self.fault_p95_ms, tolerance)
        location, tail = self.latency_significance, self.tail_significance
        moved = p95_beyond or _beyond(self.baseline_p50_ms, self.fault_p50_ms, median)
        if location is not None and location < alpha and moved:
            return True
        return tail is not None and tail < alpha and p95_beyond

    def errors_deviate(self, tolerance: float, alpha: float = ALPHA) -> bool:
        """Significantly more errors, and more than `tolerance` above the baseline rate."""
        significance = self.error_significance
        if significance is None or significance >= alpha:
            return False
        return self.fault_error_rate - self.baseline_error_rate > tolerance

    def latency_change(self) -> str:
        """`p95 40ms -> 90ms, p50 20ms -> 31ms (q=3e-05; beyond the baseline's p95: 5% ->
        40%, q=1e-07)`, for problem texts."""
        label = "q" if self.latency_q_value is not None else "p"
        tests = []
        if (q := self.latency_significance) is not None:
            tests.append(f"{label}={q:.1g}")
        tail = self.tail_significance
        if tail is not None and self.baseline_tail_share is not None:
            share = f"{self.baseline_tail_share:.0%} -> {self.fault_tail_share:.0%}"
            tests.append(f"beyond the baseline's p95: {share}, {label}={tail:.1g}")
        return (
            f"p95 {_ms(self.baseline_p95_ms)} -> {_ms(self.fault_p95_ms)}, "
            f"p50 {_ms(self.baseline_p50_ms)} -> {_ms(self.fault_p50_ms)}"
            + (f" ({'; '.join(tests)})" if tests else "")
        )

    def error_change(self) -> str:
        """`0.0% -> 12.5% (q=1e-04)`, for problem texts."""
        q = self.error_significance
        label = "q" if self.error_q_value is not None else "p"
        return f"{self.baseline_error_rate:.1%} -> {self.fault_error_rate:.1%}" + (
            f" ({label}={q:.1g})" if q is not None else ""
        )


def _beyond(baseline: float | None, fault: float | None, tolerance: float) -> bool:
    if baseline is None or fault is None:
        return False
    return fault > baseline * tolerance and fault - baseline > MIN_LATENCY_SHIFT_MS


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def adjust(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons with Benjamini-Hochberg q-values over all their p-values together."""
    values = [p for c in comparisons for p in c.p_values() if p is not None]
    if not values:
        return list(comparisons)
    q_values = iter(stats.false_discovery_control(values, method="bh").tolist())
    adjusted = []
    for c in comparisons:
        latency_q, error_q, tail_q = (None if p is None else next(q_values) for p in c.p_values())
        adjusted.append(
            replace(c, latency_q_value=latency_q, error_q_value=error_q, tail_q_value=tail_q)
        )
    return adjusted


def _expand(pairs: list[tuple[float, int]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = np.array([v for v, _ in pairs], dtype=np.float64)
    counts = np.array([c for _, c in pairs], dtype=np.int64)
    return np.repeat(values, counts)


def compare(baseline: WindowStats, fault: WindowStats) -> Comparison:
    """Latency (Mann-Whitney U) and error (Fisher exact) tests, fault vs baseline, one-sided."""
    latency_p = tail_p = base_share = fault_share = None
    if baseline.count >= MIN_REQUESTS and fault.count >= MIN_REQUESTS:
        fault_values, base_values = _expand(fault.value_counts()), _expand(baseline.value_counts())
        result = stats.mannwhitneyu(fault_values, base_values, alternative="greater")
        latency_p = float(result.pvalue)
        p95 = baseline.percentile_ms(95) or 0.0
        base_slow, fault_slow = int((base_values > p95).sum()), int((fault_values > p95).sum())
        table = [
            [fault_slow, fault.count - fault_slow],
            [base_slow, baseline.count - base_slow],
        ]
        tail_p = float(stats.fisher_exact(table, alternative="greater").pvalue)
        base_share, fault_share = base_slow / baseline.count, fault_slow / fault.count
    error_p: float | None = None
    if baseline.offered >= MIN_REQUESTS and fault.offered >= MIN_REQUESTS:
        fault_bad = fault.failures + fault.dropped
        base_bad = baseline.failures + baseline.dropped
        table = [[fault_bad, fault.offered - fault_bad], [base_bad, baseline.offered - base_bad]]
        error_p = float(stats.fisher_exact(table, alternative="greater").pvalue)
    return Comparison(
        baseline_count=baseline.count,
        fault_count=fault.count,
        baseline_p50_ms=baseline.percentile_ms(50),
        fault_p50_ms=fault.percentile_ms(50),
        baseline_p95_ms=baseline.percentile_ms(95),
        fault_p95_ms=fault.percentile_ms(95),
        latency_p_value=latency_p,
        baseline_error_rate=baseline.error_rate,
        fault_error_rate=fault.error_rate,
        error_p_value=error_p,
        tail_p_value=tail_p,
        baseline_tail_share=base_share,
        fault_tail_share=fault_share,
    )
