"""ShardedHistogram: prometheus-client's exposition, lock-free counts that lose nothing."""

from __future__ import annotations

import math
import re
import threading

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import metrics as client_metrics
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from instrumentation.histogram import ShardedHistogram, histogram_class, observe_traced
from instrumentation.metrics import DURATION_BUCKETS

NAME = "d_seconds"
LABELS = ("route", "status")
# Bounds themselves (le is inclusive), between them, below and above all, zero, negative,
# infinity and NaN (in the sum only).
AMOUNTS = (0.005, 0.0049, 0.0051, 0.1, 0.3, 9.99, 10.0, 12.0, 0.0, -1.0, math.inf, 0.042)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _pair() -> tuple[Histogram, Histogram, CollectorRegistry, CollectorRegistry]:
    stock_registry, sharded_registry = CollectorRegistry(), CollectorRegistry()
    stock = Histogram(NAME, "d", LABELS, buckets=DURATION_BUCKETS, registry=stock_registry)
    sharded = ShardedHistogram(
        NAME, "d", LABELS, buckets=DURATION_BUCKETS, registry=sharded_registry
    )
    return stock, sharded, stock_registry, sharded_registry


def _without_created(text: bytes) -> str:
    return re.sub(r"(?m)^.*_created.*\n", "", text.decode())


def _without_exemplar_times(text: bytes) -> str:
    # An exemplar's timestamp is when it was observed: the two histograms differ there only.
    return re.sub(r"(# \{[^}]*\} \S+) \S+", r"\1", _without_created(text))


def test_exposes_what_prometheus_client_exposes_for_the_same_observations() -> None:
    stock, sharded, stock_registry, sharded_registry = _pair()
    for histogram in (stock, sharded):
        for amount in AMOUNTS:
            histogram.labels("/a", "200").observe(amount)
        histogram.labels("/b", "500").observe(0.2, {"trace_id": TRACE_ID})
        histogram.labels("/b", "500").observe(0.7)
    assert _without_created(generate_latest(sharded_registry)) == _without_created(
        generate_latest(stock_registry)
    )
    assert _without_exemplar_times(openmetrics_latest(sharded_registry)) == (
        _without_exemplar_times(openmetrics_latest(stock_registry))
    )
    assert (
        f'le="0.25",route="/b",status="500"}} 1.0 # {{trace_id="{TRACE_ID}"}} 0.2'
        in openmetrics_latest(sharded_registry).decode()
    )


def test_nan_goes_into_the_sum_only() -> None:
    stock, sharded, stock_registry, sharded_registry = _pair()
    for histogram in (stock, sharded):
        histogram.labels("/a", "200").observe(math.nan)
    labels = {"route": "/a", "status": "200"}
    for registry in (stock_registry, sharded_registry):
        assert registry.get_sample_value(f"{NAME}_count", labels) == 0
        assert math.isnan(registry.get_sample_value(f"{NAME}_sum", labels) or 0.0)


def test_observe_traced_sets_the_exemplar_on_the_bucket_it_counted_in() -> None:
    stock, sharded, stock_registry, sharded_registry = _pair()
    for histogram in (stock, sharded):
        observe_traced(histogram.labels("/a", "200"), 0.03, TRACE_ID)
        observe_traced(histogram.labels("/a", "200"), 0.06, TRACE_ID[::-1])
    assert _without_exemplar_times(openmetrics_latest(sharded_registry)) == (
        _without_exemplar_times(openmetrics_latest(stock_registry))
    )
    exposed = openmetrics_latest(sharded_registry).decode()
    assert f'le="0.05",route="/a",status="200"}} 1.0 # {{trace_id="{TRACE_ID}"}} 0.03' in exposed
    assert (
        f'le="0.075",route="/a",status="200"}} 2.0 # {{trace_id="{TRACE_ID[::-1]}"}} 0.06'
        in exposed
    )


def test_a_bad_exemplar_is_refused_after_counting_as_prometheus_client_does() -> None:
    stock, sharded, stock_registry, sharded_registry = _pair()
    for histogram in (stock, sharded):
        with pytest.raises(ValueError, match="128"):
            histogram.labels("/a", "200").observe(0.1, {"trace_id": "x" * 200})
    labels = {"route": "/a", "status": "200"}
    for registry in (stock_registry, sharded_registry):
        assert registry.get_sample_value(f"{NAME}_count", labels) == 1


def test_a_family_with_labels_refuses_to_observe_like_prometheus_client() -> None:
    _, sharded, _, _ = _pair()
    with pytest.raises(ValueError, match="missing label values"):
        sharded.observe(0.1)


def test_an_unlabelled_histogram_counts_and_reports_created() -> None:
    registry = CollectorRegistry()
    histogram = ShardedHistogram("plain_seconds", "p", registry=registry)
    histogram.observe(0.2)
    assert registry.get_sample_value("plain_seconds_count") == 1
    assert registry.get_sample_value("plain_seconds_created") is not None
    client_metrics.disable_created_metrics()
    try:
        assert registry.get_sample_value("plain_seconds_created") is None
    finally:
        client_metrics.enable_created_metrics()


def test_threads_lose_no_observation_while_scrapes_run() -> None:
    registry = CollectorRegistry()
    child = ShardedHistogram(NAME, "d", LABELS, registry=registry).labels("/a", "200")
    threads, per_thread = 8, 5000
    start = threading.Barrier(threads + 1)
    done = threading.Event()
    counts: list[float] = []

    def observe() -> None:
        start.wait()
        for index in range(per_thread):
            child.observe(0.5 if index % 2 else 0.25)  # sums of these are exact

    def scrape() -> None:
        start.wait()
        while not done.is_set():
            counts.append(
                registry.get_sample_value(f"{NAME}_count", {"route": "/a", "status": "200"}) or 0.0
            )

    workers = [threading.Thread(target=observe) for _ in range(threads)]
    scraper = threading.Thread(target=scrape)
    for thread in [*workers, scraper]:
        thread.start()
    for thread in workers:
        thread.join()
    done.set()
    scraper.join()
    labels = {"route": "/a", "status": "200"}
    assert registry.get_sample_value(f"{NAME}_count", labels) == threads * per_thread
    assert registry.get_sample_value(f"{NAME}_sum", labels) == threads * per_thread * 0.375
    assert registry.get_sample_value(f"{NAME}_bucket", {**labels, "le": "0.25"}) == (
        threads * per_thread / 2
    )
    assert counts == sorted(counts), "a scrape saw the count go down"


def test_single_process_metrics_use_the_sharded_class() -> None:
    assert histogram_class() is ShardedHistogram


def _sum_of_two_threads(amounts: tuple[float, float]) -> float | None:
    # Two threads alive at once keep two shards; their sums are added at scrape time.
    registry = CollectorRegistry()
    histogram = ShardedHistogram("s_seconds", "s", registry=registry)
    both_observed = threading.Barrier(2)

    def observe(amount: float) -> None:
        histogram.observe(amount)
        both_observed.wait()

    threads = [threading.Thread(target=observe, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return registry.get_sample_value("s_seconds_sum")


def test_sums_that_overflow_or_cancel_across_threads_expose_as_prometheus_client_does() -> None:
    assert _sum_of_two_threads((1e308, 1e308)) == math.inf
    assert math.isnan(_sum_of_two_threads((math.inf, -math.inf)) or 0.0)
