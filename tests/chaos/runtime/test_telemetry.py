"""Waiting for a system to settle: nothing in flight, no backlog, read from real /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from chaos.runtime.telemetry import wait_settled
from chaos.system.topology import ProcessPlan
from tests.support import serve_in_thread


def replica_owing(items: list[float]) -> Starlette:
    """A replica whose /metrics reports the next of `items` as its backlog at each read."""

    async def metrics(request: Request) -> PlainTextResponse:
        owed = items.pop(0) if len(items) > 1 else items[0]
        return PlainTextResponse(
            "# TYPE http_server_active_requests gauge\n"
            "http_server_active_requests 0.0\n"
            "# TYPE backlog_items gauge\n"
            f'backlog_items{{kind="pending_orders"}} {owed}\n'
        )

    return Starlette(routes=[Route("/metrics", metrics)])


def plan(service: str, url: str) -> ProcessPlan:
    port = int(url.rsplit(":", 1)[1])
    return ProcessPlan(
        service=service, replica=0, infrastructure=False, port=port, argv=(), env={},
        health="/healthz", scheme="http", data_dir="", log="", metrics="/metrics",
    )  # fmt: skip


@pytest.fixture
def draining() -> Iterator[str]:
    with serve_in_thread(replica_owing([3.0, 2.0, 1.0, 0.0])) as url:
        yield url


@pytest.fixture
def stuck() -> Iterator[str]:
    with serve_in_thread(replica_owing([5.0])) as url:
        yield url


def test_a_backlog_is_waited_for_until_it_is_drained(draining: str) -> None:
    began = time.monotonic()
    settled = wait_settled([plan("orders", draining)], timeout=10, poll=0.05)

    assert settled.owed == {}
    assert settled.seconds >= 3 * 0.05 and time.monotonic() - began < 5
    assert settled.to_json()["backlog_left"] == {}


def test_a_backlog_that_never_drains_is_reported_when_the_time_is_up(
    draining: str, stuck: str
) -> None:
    replicas = [plan("orders", stuck), plan("payments", draining)]
    settled = wait_settled(replicas, timeout=1, poll=0.05)

    assert settled.owed == {"orders": 5.0}
    assert settled.seconds >= 1
