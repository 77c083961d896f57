"""Per-second samples: recording, the file format, and merges that lose nothing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtests.errors import SamplesInvalid
from loadtests.samples import (
    HIGHEST_US,
    OTHER_JOURNEY,
    SAMPLES_FILE,
    Sample,
    SampleAccumulator,
    SamplesWriter,
    new_histogram,
    record_ms,
)
from loadtests.windows import Window, WindowSet, read_samples, value_at_percentile

T0 = 1_700_000_000

requests = st.lists(
    st.tuples(
        st.sampled_from(["browse", "checkout"]),
        st.integers(min_value=0, max_value=9),  # second offset
        st.floats(min_value=0.001, max_value=120_000.0, allow_nan=False),  # latency ms
        st.booleans(),  # failed
    ),
    min_size=1,
    max_size=200,
)


def _buckets(histogram: HdrHistogram) -> list[int]:
    return list(histogram.counts)  # the count of every bucket


def _write(path: Path, *batches: list[Sample]) -> None:
    with SamplesWriter(path) as writer:
        for batch in batches:
            writer.write(batch)


@settings(max_examples=25, deadline=None)
@given(requests, st.integers(min_value=1, max_value=4), st.integers(min_value=0, max_value=10))
def test_any_window_equals_one_histogram_of_its_requests(
    tmp_path_factory: pytest.TempPathFactory, reqs: list, workers: int, cut: int
) -> None:
    """Requests split over workers and flushes, merged back per window, match a direct count."""
    path = tmp_path_factory.mktemp("s") / SAMPLES_FILE
    accumulators = [SampleAccumulator() for _ in range(workers)]
    for i, (journey, offset, latency, failed) in enumerate(reqs):
        accumulators[i % workers].record(journey, T0 + offset, latency, failed=failed)
    # workers ship samples to a master, which merges and writes them in two flushes
    master = SampleAccumulator()
    shipped = [Sample.from_line(s.to_line(), "w") for acc in accumulators for s in acc.drain()]
    for sample in shipped[: len(shipped) // 2]:
        master.add(sample)
    first = master.drain()
    for sample in shipped[len(shipped) // 2 :]:
        master.add(sample)
    _write(path, first, master.drain())

    samples = read_samples(path)
    window = Window("w", T0 + cut, T0 + 10)
    for journey in ("browse", "checkout"):
        inside = [r for r in reqs if r[0] == journey and cut <= r[1]]
        stats = samples.stats(journey, window)
        expected_all, expected_ok = new_histogram(), new_histogram()
        for _, _, latency, failed in inside:
            record_ms(expected_all, latency)
            if not failed:
                record_ms(expected_ok, latency)
        assert stats.count == len(inside)
        assert stats.failures == sum(1 for r in inside if r[3])
        assert _buckets(stats.latency) == _buckets(expected_all)  # every bucket, not a summary
        assert _buckets(stats.ok) == _buckets(expected_ok)
        if inside:
            for q in (50, 99.9):
                assert stats.percentile_ms(q) == expected_all.get_value_at_percentile(q) / 1000


@settings(max_examples=60, deadline=None)
@given(
    latencies=st.lists(
        st.floats(min_value=0.001, max_value=120_000.0, allow_nan=False), min_size=1, max_size=300
    ),
    percentile=st.sampled_from([0.0, 0.1, 50.0, 95.0, 99.0, 99.999, 100.0]),
)
def test_the_numpy_percentile_is_hdrh_s_own(latencies: list[float], percentile: float) -> None:
    histogram = new_histogram()
    for latency in latencies:
        record_ms(histogram, latency)
    expected = histogram.get_value_at_percentile(percentile)
    assert value_at_percentile(histogram, percentile) == expected
    # a decoded histogram (what a samples file holds) answers the same
    decoded = HdrHistogram.decode(histogram.encode())
    assert value_at_percentile(decoded, percentile) == decoded.get_value_at_percentile(percentile)


def test_adjacent_windows_split_seconds_without_overlap(tmp_path: Path) -> None:
    acc = SampleAccumulator()
    for offset in range(10):
        for _ in range(offset + 1):
            acc.record("browse", T0 + offset, 5.0, failed=False)
    _write(tmp_path / SAMPLES_FILE, acc.drain())
    samples = read_samples(tmp_path / SAMPLES_FILE)
    cuts = [T0, T0 + 2.3, T0 + 2.7, T0 + 7.5, T0 + 10]
    windows = [Window(str(i), a, b) for i, (a, b) in enumerate(itertools.pairwise(cuts))]
    counts = [samples.stats("browse", w).count for w in windows]
    assert sum(counts) == samples.stats("browse").count == 55
    assert [w.seconds for w in windows] == [2, 1, 4, 3]  # by midpoint: 7.5 is in the last
    assert samples.stats("browse", windows[2]).throughput == pytest.approx((4 + 5 + 6 + 7) / 4)


@given(
    cuts=st.lists(
        st.floats(min_value=-3.0, max_value=30.0, allow_nan=False), min_size=2, max_size=8
    )
)
def test_whole_seconds_are_exactly_the_seconds_a_window_contains(cuts: list[float]) -> None:
    bounds = sorted(cuts)
    parts = [Window("p", a, b) for a, b in itertools.pairwise(bounds)][::2]
    for window in [Window("w", bounds[0], bounds[-1]), WindowSet.of("set", parts)]:
        expected = [s for s in range(-5, 35) if window.contains(s)]
        assert window.whole_seconds() == expected
        assert len(expected) == window.seconds


def test_dropped_and_late_count_in_offered_and_error_rate(tmp_path: Path) -> None:
    acc = SampleAccumulator()
    for _ in range(8):
        acc.record("checkout", T0, 10.0, failed=False, late=True)
    acc.record("checkout", T0, 10.0, failed=True)
    acc.record_dropped("checkout", T0)
    acc.record("checkout", T0, None, failed=False)  # a request without a latency
    _write(tmp_path / SAMPLES_FILE, acc.drain())
    stats = read_samples(tmp_path / SAMPLES_FILE).stats("checkout")
    assert (stats.count, stats.failures, stats.dropped, stats.late) == (10, 1, 1, 8)
    assert stats.offered == 11
    assert stats.error_rate == pytest.approx(2 / 11)
    assert stats.latency.get_total_count() == 9
    assert stats.offered_rate == 11.0 and stats.throughput == 10.0


def test_latency_beyond_the_range_is_clamped_not_lost() -> None:
    sample = Sample("x", T0)
    sample.record(10 * HIGHEST_US / 1000, failed=False)
    assert sample.ok is not None and sample.ok.get_total_count() == 1
    assert sample.ok.get_max_value() >= HIGHEST_US * 0.99


def test_journey_names_are_bounded() -> None:
    acc = SampleAccumulator(max_journeys=2)
    for name in ("a", "b", "c", "d"):
        acc.record(name, T0, 1.0, failed=False)
    assert sorted(s.journey for s in acc.drain()) == [OTHER_JOURNEY, "a", "b"]


def test_merge_refuses_another_key() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        Sample("a", T0).merge(Sample("b", T0))


def test_reader_ignores_a_torn_last_line_but_names_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / SAMPLES_FILE
    acc = SampleAccumulator()
    acc.record("browse", T0, 3.0, failed=False)
    _write(path, acc.drain())
    with path.open("a") as f:
        f.write('{"journey": "browse", "sec')  # the writer is mid-line
    assert read_samples(path).stats("browse").count == 1

    lines = path.read_text().splitlines()[:2]
    lines.append(json.dumps({"journey": "browse", "second": T0, "count": 1, "failures": 2}))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SamplesInvalid, match=rf"{SAMPLES_FILE}:3: failures \(2\) exceed count"):
        read_samples(path)


def test_reader_wants_the_header(tmp_path: Path) -> None:
    path = tmp_path / SAMPLES_FILE
    path.write_text('{"journey": "a", "second": 1}\n')
    with pytest.raises(SamplesInvalid, match=":1: first line is not a gameday-samples header"):
        read_samples(path)
    with pytest.raises(SamplesInvalid, match="--gameday-run-dir"):
        read_samples(tmp_path / "missing.jsonl")


def test_per_second_series_and_value_counts(tmp_path: Path) -> None:
    acc = SampleAccumulator()
    acc.record("browse", T0, 1.0, failed=False)
    acc.record("browse", T0 + 2, 2.0, failed=False)
    acc.record("browse", T0 + 2, 2.0, failed=False)
    _write(tmp_path / SAMPLES_FILE, acc.drain())
    samples = read_samples(tmp_path / SAMPLES_FILE)
    series = list(samples.per_second("browse"))
    assert [(s.window.start, s.count) for s in series] == [(T0, 1), (T0 + 2, 2)]
    assert series[1].value_counts() == [(2.0, 2)]
    assert samples.span == Window("run", T0, T0 + 3)
    assert [w.seconds for w in samples.windows(1)] == [1, 1, 1]


def test_failure_kinds_merge_and_stay_bounded() -> None:
    from loadtests.samples import MAX_ERROR_KINDS, OTHER_ERROR, Sample, failure_kind

    class Response:
        status_code = 503

    class HTTPError(Exception):
        response = Response()

    assert failure_kind(None) is None
    assert failure_kind(HTTPError(), None) == "503"
    assert failure_kind(TimeoutError(), Response()) == "503"
    assert failure_kind(ConnectionResetError()) == "ConnectionResetError"

    a, b = Sample("checkout", 1), Sample("checkout", 1)
    a.record(5.0, failed=True, error="503")
    b.record(7.0, failed=True, error="503")
    b.record(9.0, failed=True, error="ReadTimeout")
    b.record(1.0, failed=False)
    a.merge(b)
    assert a.errors == {"503": 2, "ReadTimeout": 1}
    assert Sample.from_line(a.to_line(), "test").errors == a.errors

    many = Sample("checkout", 2)
    for code in range(MAX_ERROR_KINDS + 5):
        many.record(1.0, failed=True, error=f"E{code}")
    assert len(many.errors) == MAX_ERROR_KINDS + 1
    assert many.errors[OTHER_ERROR] == 5


def test_a_follower_reads_only_complete_new_lines(tmp_path: Path) -> None:
    from loadtests.samples import HEADER, Sample
    from loadtests.windows import SamplesFollower

    path = tmp_path / "samples.jsonl"
    follower = SamplesFollower(path)
    assert follower.poll().journeys == ()  # not written yet
    one = Sample("browse", 10)
    one.record(5.0, failed=False)
    line = json.dumps(one.to_line())
    path.write_text(json.dumps(HEADER) + "\n" + line + "\n" + line[:20])  # a torn last line
    assert follower.poll().stats("browse").count == 1
    with path.open("a") as handle:
        handle.write(line[20:] + "\n")
    assert follower.poll().stats("browse").count == 2
    assert follower.poll().stats("browse").count == 2  # nothing new, nothing counted twice
