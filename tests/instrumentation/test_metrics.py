"""RED metrics on real servers: labels, cardinality, exemplars, exposition, multi-process."""

from __future__ import annotations

import random
import string
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as parse_text

from instrumentation import instrument
from instrumentation.sampling import PresetTraceIds
from tests.conftest import require_binary
from tests.instrumentation.apps import build_app
from tests.support import serve_in_thread, spawn_uvicorn

DURATION = "http_server_request_duration_seconds"


def _count(registry: CollectorRegistry, **labels: str) -> float:
    return registry.get_sample_value(f"{DURATION}_count", labels) or 0.0


def _series(registry: CollectorRegistry) -> int:
    return sum(
        1
        for family in registry.collect()
        if family.name == DURATION
        for sample in family.samples
        if sample.name.endswith("_count")
    )


@pytest.fixture
def served(spans: InMemorySpanExporter):  # type: ignore[no-untyped-def]
    registry = CollectorRegistry()
    app = build_app("red")
    instrument(app, "red", registry=registry, json_logs=False)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        yield client, registry


def test_a_router_included_under_two_prefixes_keeps_both_templates() -> None:
    # FastAPI 0.16x no longer copies an included router's routes: the route object is the
    # same under both prefixes, and its own path has neither.
    router = APIRouter()

    @router.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"user": user_id}

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix="/v2")
    registry = CollectorRegistry()
    instrument(app, "prefixes", registry=registry, json_logs=False)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        for path in ("/v1/users/1", "/v1/users/2", "/v2/users/3"):
            assert client.get(path).status_code == 200
    labels = {"http_request_method": "GET", "http_response_status_code": "200"}
    assert _count(registry, http_route="/v1/users/{user_id}", **labels) == 2
    assert _count(registry, http_route="/v2/users/{user_id}", **labels) == 1
    assert _series(registry) == 2


def test_labels_are_route_templates_methods_and_status(served) -> None:  # type: ignore[no-untyped-def]
    client, registry = served
    for item in (1, 2, 3):
        assert client.get(f"/items/{item}").status_code == 200
    assert client.get("/items/not-a-number").status_code == 422
    assert client.post("/items/1").status_code == 405
    assert client.get("/missing").status_code == 404
    assert client.get("/sub/things/x").status_code == 200
    assert client.request("PROPFIND", "/items/1").status_code == 405
    # uvicorn closes the connection after an unhandled exception: ask last.
    assert client.get("/boom").status_code == 500

    route = "/items/{item_id}"
    assert (
        _count(
            registry, http_request_method="GET", http_route=route, http_response_status_code="200"
        )
        == 3
    )
    assert (
        _count(
            registry, http_request_method="GET", http_route=route, http_response_status_code="422"
        )
        == 1
    )
    assert (
        _count(
            registry, http_request_method="POST", http_route=route, http_response_status_code="405"
        )
        == 1
    )
    assert (
        _count(
            registry,
            http_request_method="_OTHER",
            http_route=route,
            http_response_status_code="405",
        )
        == 1
    )
    assert (
        _count(
            registry,
            http_request_method="GET",
            http_route="/missing",
            http_response_status_code="404",
        )
        == 1
    )
    assert (
        _count(
            registry, http_request_method="GET", http_route="/boom", http_response_status_code="500"
        )
        == 1
    )
    assert (
        _count(
            registry,
            http_request_method="GET",
            http_route="/sub/things/{thing}",
            http_response_status_code="200",
        )
        == 1
    )
    assert (
        registry.get_sample_value("http_server_active_requests", {"http_request_method": "GET"})
        == 0
    )


def test_health_and_metrics_paths_are_not_measured(served) -> None:  # type: ignore[no-untyped-def]
    client, registry = served
    client.get("/healthz"), client.get("/readyz"), client.get("/metrics")
    assert _series(registry) == 0


@pytest.mark.asyncio
async def test_random_unmatched_paths_do_not_grow_the_series() -> None:
    registry = CollectorRegistry()
    app = build_app("cardinality")
    # Sampling off keeps 10,000 requests quick; the metrics path is the same either way.
    provider = TracerProvider(sampler=ALWAYS_OFF, id_generator=PresetTraceIds())
    instrument(app, "cardinality", registry=registry, tracer_provider=provider, json_logs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/nope")
        before = _series(registry)
        alphabet = string.ascii_letters + string.digits + "-_.~%"
        rng = random.Random(7)
        for _ in range(10_000):
            segments = rng.randint(1, 4)
            path = "/" + "/".join(
                "".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(segments)
            )
            await client.get(path)
    assert _series(registry) == before == 1
    unmatched = {
        "http_request_method": "GET",
        "http_route": "UNMATCHED",
        "http_response_status_code": "404",
    }
    assert _count(registry, **unmatched) >= 10_000


def test_exemplars_carry_the_trace_id_in_openmetrics_only(
    served, spans: InMemorySpanExporter
) -> None:  # type: ignore[no-untyped-def]
    client, _ = served
    client.get("/items/5")
    trace_ids = {format(s.context.trace_id, "032x") for s in spans.get_finished_spans()}
    openmetrics = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    exemplars = [
        sample.exemplar
        for family in text_string_to_metric_families(openmetrics.text)
        if family.name == DURATION
        for sample in family.samples
        if sample.exemplar is not None
    ]
    assert exemplars and all(e.labels["trace_id"] in trace_ids for e in exemplars)

    text = client.get("/metrics")
    assert text.headers["content-type"].startswith("text/plain")
    assert "trace_id" not in text.text and f"{DURATION}_bucket{{" in text.text


def test_promtool_accepts_the_exposition(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    promtool = require_binary("promtool", "apt-get install prometheus")
    client, _ = served
    client.get("/items/1"), client.get("/nope"), client.post("/items/2")
    text = client.get("/metrics").text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", (
        result.stdout + result.stderr
    )


def test_metrics_aggregate_across_worker_processes(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "TEST_SERVICE": "multi"}
    with spawn_uvicorn("tests.instrumentation.served:app", env=env, args=["--workers", "2"]) as (
        _,
        url,
    ):
        pids: set[int] = set()
        total = 0
        # New connections are spread over the workers by the kernel; keep going until both served.
        while len(pids) < 2 or total < 200:
            with httpx.Client(base_url=url) as client:
                for _ in range(20):
                    pids.add(client.get("/pid").json()["pid"])
                    total += 1
            assert total < 5000, "only one worker ever answered"
        families = {}
        for _ in range(4):  # any worker answers /metrics with the sum over all of them
            with httpx.Client(base_url=url) as client:
                text = client.get("/metrics").text
            families = {
                s.name: s.value
                for f in parse_text(text)
                for s in f.samples
                if s.labels.get("http_route") == "/pid" and s.name.endswith("_count")
            }
            assert families[f"{DURATION}_count"] == total


def _exemplars(url: str) -> dict[tuple[str, str], str]:
    """(histogram, route or dependency) -> trace ids of exemplars in url's OpenMetrics."""
    text = httpx.get(
        f"{url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    ).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.exemplar is not None:
                series = sample.labels.get("http_route") or sample.labels.get("server_address", "")
                found[(family.name, series)] = sample.exemplar.labels["trace_id"]
    return found


def test_exemplars_of_every_process_reach_any_processes_metrics(tmp_path: Path) -> None:
    # Two processes sharing one PROMETHEUS_MULTIPROC_DIR, as two workers do: front calls back.
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "TEST_SERVICE": "multi"}
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with (
        spawn_uvicorn("tests.instrumentation.served:app", env=env) as (_, back),
        spawn_uvicorn("tests.instrumentation.served:app", env={**env, "TEST_DOWNSTREAM": back}) as (
            _,
            front,
        ),
    ):
        traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
        with suppress_http_instrumentation():  # this test's own client must not replace it
            answer = httpx.get(f"{front}/chain", headers={"traceparent": traceparent})
        assert answer.status_code == 200
        wanted = {
            (DURATION, "/chain"): trace_id,  # observed by front, read from back
            (DURATION, "/items/{item_id}"): trace_id,  # observed by back
            ("http_client_request_duration_seconds", "downstream"): trace_id,  # front's call
        }
        deadline = time.monotonic() + 15
        while True:  # each process writes its exemplars about once a second
            seen = {key: _exemplars(back).get(key) for key in wanted}
            if seen == wanted or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert seen == wanted
        assert {key: _exemplars(front).get(key) for key in wanted} == wanted
