"""The in-flight requests gauge: what a scrape shows while requests run, on a real server."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from instrumentation import instrument
from instrumentation.inflight import InFlight, in_flight
from tests.support import serve_in_thread

ACTIVE = "http_server_active_requests"


def _gauge(registry: CollectorRegistry) -> Gauge:
    return Gauge(ACTIVE, "in flight", ["http_request_method"], registry=registry)


def _active(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value(ACTIVE, {"http_request_method": "GET"})


@pytest.mark.parametrize("multiprocess", [False, True])
def test_the_gauge_follows_enter_and_leave(multiprocess: bool) -> None:
    registry = CollectorRegistry()
    in_flight = InFlight(_gauge(registry).labels("GET"), multiprocess=multiprocess)
    assert _active(registry) == 0
    for _ in range(3):
        in_flight.enter()
    in_flight.leave()
    assert _active(registry) == 2
    assert _active(registry) == 2  # reading leaves the value as it was
    in_flight.leave()
    in_flight.leave()
    assert _active(registry) == 0


def test_middlewares_counting_into_one_child_share_its_count() -> None:
    registry = CollectorRegistry()
    child = _gauge(registry).labels("GET")
    first, second = (in_flight(child, multiprocess=False) for _ in range(2))
    first.enter()
    second.enter()
    assert _active(registry) == 2
    first.leave()
    assert _active(registry) == 1


def test_threads_entering_and_leaving_at_once_leave_zero() -> None:
    registry = CollectorRegistry()
    in_flight = InFlight(_gauge(registry).labels("GET"), multiprocess=False)

    def churn() -> None:
        for _ in range(20_000):
            in_flight.enter()
            in_flight.leave()

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(churn) for _ in range(8)]:
            future.result()
    assert _active(registry) == 0


def _scraped_active(url: str) -> float | None:
    """The GET series of the gauge in /metrics; None before the first GET has started."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == ACTIVE and sample.labels == {"http_request_method": "GET"}:
                return sample.value
    return None


def test_a_scrape_counts_the_requests_still_running() -> None:
    release = threading.Event()
    app = FastAPI()

    @app.get("/wait")
    async def wait() -> dict[str, bool]:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return {"released": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("planted failure")

    registry = CollectorRegistry()
    instrument(app, "inflight", registry=registry, json_logs=False)
    with serve_in_thread(app) as url, ThreadPoolExecutor(3) as pool:
        assert _scraped_active(url) is None
        waiting = [pool.submit(httpx.get, f"{url}/wait", timeout=10) for _ in range(3)]
        try:
            deadline = time.monotonic() + 10
            while (_scraped_active(url) or 0) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _scraped_active(url) == 3
            # A failed request leaves too (uvicorn then drops its connection: a new one each).
            assert httpx.get(f"{url}/boom", timeout=10).status_code == 500
            assert _scraped_active(url) == 3
        finally:
            release.set()
        assert all(f.result().status_code == 200 for f in waiting)
        assert _scraped_active(url) == 0
