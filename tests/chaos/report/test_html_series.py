"""The charts' per-second series: exact percentiles, gaps where nothing was sent, the
slowest traced requests of a window."""

from __future__ import annotations

import random

from chaos.report.html.series import journey_series, percentiles_ms, slowest_requests
from loadtests.samples import Sample, parse_line
from loadtests.windows import SampleSet, Window


def samples_of(*lines: Sample) -> SampleSet:
    return SampleSet([parse_line(s.to_line(), "test") for s in lines])


def test_percentiles_equal_hdrhistograms_own() -> None:
    rng = random.Random(3)
    for size in (1, 2, 7, 100, 1000):
        sample = Sample("j", 100)
        for _ in range(size):
            failed = rng.random() < 0.2
            sample.record(
                rng.lognormvariate(3, 1.5), failed=failed, error="503" if failed else None
            )
        stats = samples_of(sample).stats("j")
        wanted = (0.1, 50.0, 95.0, 99.0, 99.99, 100.0)
        assert percentiles_ms(stats, wanted) == [stats.percentile_ms(p) for p in wanted]
    assert percentiles_ms(SampleSet().stats("j"), (50.0,)) == [None]


def test_a_second_without_requests_is_a_gap_not_a_zero() -> None:
    first, third = Sample("j", 10), Sample("j", 12)
    for latency in (10.0, 20.0, 30.0):
        first.record(latency, failed=False)
    third.record(50.0, failed=True, error="503")
    third.record(70.0, failed=False)
    series = journey_series(samples_of(first, third), "j")
    assert series is not None
    assert (series.start, series.end) == (10, 13)
    assert series.p50_ms[1] is None and series.p95_ms[1] is None and series.error_rate[1] is None
    assert series.error_rate == (0.0, None, 0.5)
    assert series.p95_ms[0] is not None and 29.9 < series.p95_ms[0] < 30.1
    assert journey_series(samples_of(first), "other") is None

    padded = series.between(8, 14)
    assert padded.start == 8
    assert padded.error_rate == (None, None, 0.0, None, 0.5, None)


def test_the_slowest_traced_requests_of_a_window_slowest_first() -> None:
    lines = []
    for second in (1, 2, 3):
        for journey in ("a", "b"):
            sample = Sample(journey, second)
            for i in range(8):
                trace = f"{second:02d}{journey}{i:029d}"
                sample.record(second * 100.0 + i, failed=i == 7, trace_ids=(trace,))
            lines.append(sample)
    samples = samples_of(*lines)
    slow = slowest_requests(samples, ["a", "b"], Window("fault", 2, 3), per_journey=3)
    assert [r.latency_ms for r in slow] == [207.0, 207.0, 206.0, 206.0, 205.0, 205.0]
    assert {r.journey for r in slow} == {"a", "b"}
    assert all(r.trace_id.startswith("02") for r in slow)  # second 2 only: the window
    assert slow[0].failed and not slow[-1].failed
