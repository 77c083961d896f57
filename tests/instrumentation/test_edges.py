"""Every httpx client in an instrumented process is measured, against real loopback servers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from chaos.net import free_port
from instrumentation import dependency_client, instrument
from instrumentation.edges import OTHER_ADDRESS, EdgeNames
from tests.support import serve_in_thread

COUNT = "http_client_request_duration_seconds_count"


def _callee() -> FastAPI:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/ok")
    async def api_ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("broken")

    return app


@pytest.fixture
def callee() -> Iterator[str]:
    with serve_in_thread(_callee()) as url:
        yield url


def _instrumented(monkeypatch: pytest.MonkeyPatch, **env: str) -> CollectorRegistry:
    """A registry that every httpx client of this process now reports into."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    registry = CollectorRegistry()
    instrument(FastAPI(title="caller"), "caller", registry=registry, json_logs=False)
    return registry


def _addresses(registry: CollectorRegistry) -> dict[str, float]:
    """Requests counted per server_address."""
    counted: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == COUNT:
                address = sample.labels["server_address"]
                counted[address] = counted.get(address, 0) + sample.value
    return counted


def _labels(address: str, status: str, error: str = "") -> dict[str, str]:
    return {
        "server_address": address,
        "http_request_method": "GET",
        "http_response_status_code": status,
        "error_type": error,
    }


@pytest.mark.asyncio
async def test_plain_clients_are_measured_by_host_and_port(
    callee: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _instrumented(monkeypatch)
    address = callee.removeprefix("http://")
    with httpx.Client(base_url=callee) as client:
        assert client.get("/ok").status_code == 200
    async with httpx.AsyncClient(base_url=callee) as client:
        assert (await client.get("/ok")).status_code == 200
        assert (await client.get("/broken")).status_code == 500
    assert registry.get_sample_value(COUNT, _labels(address, "200")) == 2
    assert registry.get_sample_value(COUNT, _labels(address, "500", "500")) == 1
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(httpx.ConnectError), httpx.Client() as client:
        client.get(f"http://{closed}/ok")
    assert registry.get_sample_value(COUNT, _labels(closed, "", "ConnectError")) == 1


@pytest.mark.asyncio
async def test_the_runtimes_urls_name_the_dependency(
    callee: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = f"http://127.0.0.1:{free_port()}"
    registry = _instrumented(
        monkeypatch,
        PAYMENTS_URLS=f"{other}, {callee}",  # as the runtime writes them: one per replica
        REVIEWS_DB_URLS=f"{callee}/api",
        NATS_URLS="nats://127.0.0.1:4222",
    )
    async with httpx.AsyncClient() as client:
        await client.get(f"{callee}/ok")
        await client.get(f"{callee}/api/ok")  # the longest matching base URL wins
    assert _addresses(registry) == {"payments": 1, "reviews_db": 1}


@pytest.mark.asyncio
async def test_a_dependency_client_is_counted_once_under_its_name(
    callee: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _instrumented(monkeypatch, INVENTORY_URLS=callee)
    async with dependency_client("stock", base_url=callee, registry=registry) as client:
        assert (await client.get("/ok")).status_code == 200
    assert _addresses(registry) == {"stock": 1}


def test_many_hosts_collapse_into_one_value(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _instrumented(monkeypatch, GAMEDAY_CLIENT_ADDRESS_LIMIT="3")
    with httpx.Client(timeout=2) as client:
        for _ in range(12):  # twelve distinct closed ports: twelve distinct host:port values
            with pytest.raises(httpx.ConnectError):
                client.get(f"http://127.0.0.1:{free_port()}/")
    counted = _addresses(registry)
    assert len(counted) == 4 and counted.pop(OTHER_ADDRESS) == 9
    assert all(value == 1 for value in counted.values())


def test_plain_client_exemplars_carry_the_callers_trace_id(
    callee: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _instrumented(monkeypatch)
    with (
        trace.get_tracer("test").start_as_current_span("caller") as span,
        httpx.Client(base_url=callee) as client,
    ):
        client.get("/ok")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert f'# {{trace_id="{trace_id}"}}' in generate_latest(registry).decode()


def test_names_from_the_environment() -> None:
    names = EdgeNames.from_environ(
        {
            "ORDERS_URLS": "http://127.0.0.1:8001,https://orders.internal",
            "BROKEN_URLS": "not a url",
            "GAMEDAY_CLIENT_ADDRESS_LIMIT": "many",
            "HOME": "/root",
        }
    )
    assert names.address(httpx.URL("http://127.0.0.1:8001/x")) == "orders"
    assert names.address(httpx.URL("https://ORDERS.internal:443/x")) == "orders"
    assert names.address(httpx.URL("http://[::1]:9000/")) == "[::1]:9000"
    assert names.address(httpx.URL("http://example.test/")) == "example.test:80"
    assert any("'not a url'" in w for w in names.warnings)
    assert any("GAMEDAY_CLIENT_ADDRESS_LIMIT='many'" in w for w in names.warnings)
