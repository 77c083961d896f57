"""Baseline-vs-fault statistics for one journey: is the fault window worse than the baseline?

Latency with a one-sided Mann-Whitney U test over every request's latency (exact, from the
HdrHistogram buckets), errors with a one-sided Fisher exact test. A difference counts only
when it is both significant and larger than the hypothesis tolerates (`Comparison`), so
noise is not a finding and a trivial shift is not a failure. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from loadtests.windows import WindowStats

ALPHA = 0.01  # significance for both tests
MIN_LATENCY_SHIFT_MS = 5.0  # a p95 rise smaller than this is never called a deviation
MIN_REQUESTS = 20  # fewer requests in a window than this: no statistics, said so


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

    def latency_deviates(self, tolerance: float) -> bool:
        """Significantly slower, and p95 beyond `tolerance` x baseline (and 5 ms)."""
        if self.latency_p_value is None or self.latency_p_value >= ALPHA:
            return False
        if self.baseline_p95_ms is None or self.fault_p95_ms is None:
            return False
        return (
            self.fault_p95_ms > self.baseline_p95_ms * tolerance
            and self.fault_p95_ms - self.baseline_p95_ms > MIN_LATENCY_SHIFT_MS
        )

    def errors_deviate(self, tolerance: float) -> bool:
        """Significantly more errors, and more than `tolerance` above the baseline rate."""
        if self.error_p_value is None or self.error_p_value >= ALPHA:
            return False
        return self.fault_error_rate - self.baseline_error_rate > tolerance


def _expand(pairs: list[tuple[float, int]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = np.array([v for v, _ in pairs], dtype=np.float64)
    counts = np.array([c for _, c in pairs], dtype=np.int64)
    return np.repeat(values, counts)


def compare(baseline: WindowStats, fault: WindowStats) -> Comparison:
    """Latency (Mann-Whitney U) and error (Fisher exact) tests, fault vs baseline, one-sided."""
    latency_p: float | None = None
    if baseline.count >= MIN_REQUESTS and fault.count >= MIN_REQUESTS:
        result = stats.mannwhitneyu(
            _expand(fault.value_counts()), _expand(baseline.value_counts()), alternative="greater"
        )
        latency_p = float(result.pvalue)
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
    )
