"""Client-side RED metrics per logical dependency, against real servers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from chaos.net import free_port
from instrumentation import SyncMetricsTransport, dependency_client
from tests.support import serve_in_thread

COUNT = "http_client_request_duration_seconds_count"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("broken")

    return app


def _labels(status: str, error: str, method: str = "GET") -> dict[str, str]:
    return {
        "server_address": "payments",
        "http_request_method": method,
        "http_response_status_code": status,
        "error_type": error,
    }


@pytest.mark.asyncio
async def test_dependency_client_records_status_and_errors() -> None:
    registry = CollectorRegistry()
    with serve_in_thread(_app()) as url:
        async with dependency_client("payments", base_url=url, registry=registry) as client:
            assert (await client.get("/ok")).status_code == 200
            assert (await client.get("/ok")).status_code == 200
            assert (await client.post("/ok")).status_code == 405
            assert (await client.get("/broken")).status_code == 500
    assert registry.get_sample_value(COUNT, _labels("200", "")) == 2
    assert registry.get_sample_value(COUNT, _labels("405", "", "POST")) == 1
    assert registry.get_sample_value(COUNT, _labels("500", "500")) == 1

    closed = f"http://127.0.0.1:{free_port()}"
    async with dependency_client("payments", base_url=closed, registry=registry) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/ok")
    assert registry.get_sample_value(COUNT, _labels("", "ConnectError")) == 1


def test_sync_transport_and_label_safety() -> None:
    registry = CollectorRegistry()
    with serve_in_thread(_app()) as url:
        transport = SyncMetricsTransport("payments", registry=registry)
        with httpx.Client(transport=transport, base_url=url) as client:
            client.get("/ok")
    assert registry.get_sample_value(COUNT, _labels("200", "")) == 1
    with pytest.raises(ValueError, match="dependency name 'http://x/' must be a short name"):
        dependency_client("http://x/")


def test_client_exemplars_carry_the_callers_trace_id(spans: object) -> None:
    from opentelemetry import trace
    from prometheus_client.openmetrics.exposition import generate_latest

    registry = CollectorRegistry()
    with serve_in_thread(_app()) as url:
        transport = SyncMetricsTransport("payments", registry=registry)
        with (
            trace.get_tracer("test").start_as_current_span("caller") as span,
            httpx.Client(transport=transport, base_url=url) as client,
        ):
            client.get("/ok")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert f'# {{trace_id="{trace_id}"}}' in generate_latest(registry).decode()
