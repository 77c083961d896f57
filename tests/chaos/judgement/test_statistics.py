"""The baseline-vs-fault tests on hand-built windows: what each one sees."""

from __future__ import annotations

from dataclasses import replace
from statistics import NormalDist

from chaos.judgement.statistics import adjust, compare
from loadtests.samples import new_histogram, record_ms
from loadtests.windows import Window, WindowStats

ALPHA = 0.01 / 500  # what Benjamini-Hochberg asks of one finding among 500 p-values


def window(latencies: list[float]) -> WindowStats:
    ok = new_histogram()
    for latency in latencies:
        record_ms(ok, latency)
    return WindowStats("browse", Window("w", 0, 3), len(latencies), 0, 0, 0, ok, new_histogram())


def spread(count: int, median_ms: float = 12.0) -> list[float]:
    """`count` latencies at evenly spaced quantiles of a lognormal: noise without chance."""
    normal = NormalDist(0, 0.35)
    return [median_ms * 2.718281828 ** normal.inv_cdf((i + 0.5) / count) for i in range(count)]


def test_a_third_of_requests_slower_is_found_by_the_tail_not_the_median() -> None:
    # One replica of three 200 ms slow: browse at 12/s, a 15 s baseline, a 3 s window.
    fault = spread(36)
    fault[1::3] = [v + 200 for v in fault[1::3]]
    result = compare(window(spread(180)), window(fault))
    assert result.fault_p50_ms is not None and result.baseline_p50_ms is not None
    assert result.fault_p50_ms - result.baseline_p50_ms < 5  # the median hardly moved
    assert result.latency_p_value is not None and result.latency_p_value > ALPHA
    assert result.tail_p_value is not None and result.tail_p_value < ALPHA
    assert result.baseline_tail_share is not None and result.baseline_tail_share <= 0.05
    assert result.fault_tail_share is not None and result.fault_tail_share >= 1 / 3
    assert result.latency_deviates(1.5, ALPHA, median_tolerance=1.25)
    assert not replace(result, tail_p_value=None).latency_deviates(1.5, ALPHA, 1.25)
    assert "beyond the baseline's p95: " in result.latency_change()


def test_the_tail_test_alone_never_calls_a_tolerated_p95_a_deviation() -> None:
    # Every request 40 % slower: significant in both tests, but p95 within 1.5x and the median
    # by less than 5 ms: tolerated.
    result = compare(window(spread(180, 10.0)), window([v * 1.4 for v in spread(180, 10.0)]))
    assert result.fault_p95_ms is not None and result.baseline_p95_ms is not None
    assert result.fault_p95_ms < 1.5 * result.baseline_p95_ms
    assert result.tail_p_value is not None and result.tail_p_value < ALPHA
    assert not result.latency_deviates(1.5, ALPHA, median_tolerance=1.25)


def test_the_same_window_is_no_finding_and_every_p_value_is_adjusted() -> None:
    same = compare(window(spread(180)), window(spread(36)))
    assert not same.latency_deviates(1.5, 0.01, 1.25)
    assert same.tail_p_value is not None and same.tail_p_value > 0.1
    adjusted = adjust([same, same])
    assert all(c.tail_q_value is not None for c in adjusted)
    assert all(c.latency_q_value is not None and c.error_q_value is not None for c in adjusted)
