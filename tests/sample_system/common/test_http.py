"""The dependency client against real servers: replicas, a dead replica, failures, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY

from sample_system.common.errors import DependencyRejected, DependencyUnavailable
from sample_system.common.http import ServiceClient, policy_from_env
from sample_system.common.resilience import Policy
from tests.sample_system.servers import serve
from tests.sample_system.shop import dead_url


def replica(name: str) -> FastAPI:
    app = FastAPI()
    app.state.calls = 0

    @app.get("/who")
    async def who() -> dict[str, str]:
        app.state.calls += 1
        return {"replica": name}

    @app.post("/once")
    async def once() -> dict[str, str]:
        app.state.calls += 1
        return {"replica": name}

    @app.get("/broken")
    async def broken() -> Response:
        app.state.calls += 1
        return Response("oops", status_code=500)

    @app.get("/bad-gateway")
    async def bad_gateway() -> Response:
        return Response("upstream gone", status_code=502)

    @app.get("/my-dependency-is-down")
    async def down() -> JSONResponse:
        return JSONResponse({"error": "dependency_unavailable"}, status_code=503)

    @app.get("/missing")
    async def missing() -> JSONResponse:
        return JSONResponse({"error": "thing_not_found", "fix": "..."}, status_code=404)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.5)  # slower than the client timeout below
        return {"replica": name}

    return app


@pytest.fixture
def replicas() -> Iterator[tuple[list[str], list[FastAPI]]]:
    apps = [replica("a"), replica("b")]
    with serve(apps[0]) as a, serve(apps[1]) as b:
        yield [a, b], apps


def call(client: ServiceClient, method: str, path: str, **options: Any) -> Any:
    async def go() -> Any:
        try:
            response = await client.request(method, path, **options)
            return response.json()
        finally:
            await client.aclose()

    return asyncio.run(go())


def calls(client: ServiceClient, n: int, path: str = "/who") -> list[str]:
    async def go() -> list[str]:
        try:
            return [
                (await client.request("GET", path, idempotent=True)).json()["replica"]
                for _ in range(n)
            ]
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_requests_are_spread_over_the_replicas(replicas):
    urls, _ = replicas
    assert calls(ServiceClient("spread", urls), 4) == ["a", "b", "a", "b"]


def test_a_dead_replica_is_retried_around_then_ejected(replicas):
    urls, apps = replicas
    client = ServiceClient("dead-replica", [dead_url(), urls[0]], Policy(attempts=2), eject_after=1)
    assert calls(client, 5) == ["a"] * 5
    assert apps[0].state.calls == 5
    assert client.balancer.ejected() == [client.balancer.endpoints[0]]


def test_a_non_idempotent_call_is_not_retried(replicas):
    urls, _ = replicas
    client = ServiceClient("no-retry", [dead_url(), urls[0]], Policy(attempts=3))
    with pytest.raises(DependencyUnavailable) as caught:
        call(client, "POST", "/once", idempotent=False)
    assert caught.value.reason == "error"
    assert not caught.value.maybe_processed  # connection refused: it never arrived


def test_a_500_is_a_failure_that_is_retried_on_the_other_replica(replicas):
    urls, apps = replicas
    client = ServiceClient("five-hundred", urls, Policy(attempts=2))
    with pytest.raises(DependencyUnavailable) as caught:
        call(client, "GET", "/broken", idempotent=True)
    assert caught.value.maybe_processed
    assert [app.state.calls for app in apps] == [1, 1]


def test_a_500_says_nothing_of_health_so_the_breaker_stays_closed(replicas):
    # bad input can make a callee fail on one request: a few such requests must not open the
    # breaker for every other caller (the hostile-input bug the matrix found)
    urls, _ = replicas
    client = ServiceClient("five-hundred", urls, Policy(attempts=2, breaker_failures=1))

    async def three_bad_requests() -> list[str]:
        outcomes = []
        try:
            for _ in range(3):
                try:
                    await client.request("GET", "/broken", idempotent=True)
                except DependencyUnavailable as exc:
                    outcomes.append(exc.reason)
        finally:
            await client.aclose()
        return outcomes

    assert asyncio.run(three_bad_requests()) == ["error", "error", "error"]  # not circuit_open
    assert client.resilience.breaker.state == "closed"
    gateway_gone = ServiceClient("bad-gateway", urls, Policy(attempts=1, breaker_failures=1))
    with pytest.raises(DependencyUnavailable):
        call(gateway_gone, "GET", "/bad-gateway", idempotent=True)
    assert gateway_gone.resilience.breaker.state == "open"


def test_a_callee_whose_own_dependency_is_down_is_not_counted_against_it(replicas):
    urls, _ = replicas
    client = ServiceClient("healthy-callee", urls, Policy(attempts=2, breaker_failures=1))
    with pytest.raises(DependencyRejected) as caught:
        call(client, "GET", "/my-dependency-is-down", idempotent=True)
    assert caught.value.status == 503
    assert client.resilience.breaker.state == "closed"


def test_a_4xx_is_passed_on_with_its_body(replicas):
    urls, _ = replicas
    client = ServiceClient("four-oh-four", urls)
    with pytest.raises(DependencyRejected) as caught:
        call(client, "GET", "/missing", idempotent=True)
    assert (caught.value.status, caught.value.code) == (404, "thing_not_found")


def test_a_slow_answer_times_out_and_is_counted(replicas):
    urls, _ = replicas
    client = ServiceClient("slow-callee", urls[:1], Policy(timeout=0.1, attempts=1))
    with pytest.raises(DependencyUnavailable) as caught:
        call(client, "GET", "/slow", idempotent=True)
    assert caught.value.reason == "timeout"
    assert caught.value.maybe_processed
    assert (
        REGISTRY.get_sample_value("resilience_timeouts_total", {"server_address": "slow-callee"})
        == 1
    )
    assert (
        REGISTRY.get_sample_value(
            "http_client_request_duration_seconds_count",
            {
                "server_address": "slow-callee",
                "http_request_method": "GET",
                "http_response_status_code": "",
                "error_type": "ReadTimeout",
            },
        )
        == 1
    )


def test_policy_overrides_from_the_environment():
    env = {"PAYMENTS_TIMEOUT_S": "0.25", "PAYMENTS_ATTEMPTS": "4"}
    policy = policy_from_env(env, "payments", Policy(timeout=1.0, attempts=2, max_concurrent=7))
    assert (policy.timeout, policy.attempts, policy.max_concurrent) == (0.25, 4, 7)
