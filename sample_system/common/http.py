"""The client for calling another service of the shop: load balanced, measured, protected.

    client = ServiceClient("payments", settings_urls, Policy(timeout=1.0))
    response = await client.request("PUT", f"/charges/{order_id}", json=body, idempotent=True)

- one `instrumentation.dependency_client` per dependency, so every attempt is measured as
  `http_client_request_duration_seconds{server_address="payments"}`;
- each attempt goes to the next replica (`Balancer`: round robin, failing endpoints ejected),
  a retry to a replica not yet tried;
- `Resilience` adds the bulkhead, breaker, per-attempt timeout, retry budget and retries
  (only when the caller says the request is idempotent);
- `client_from_env` sends the run's secret on every request (`auth.py`).

Outcomes: a 2xx `httpx.Response`; `DependencyRejected` when the callee answered with a 4xx,
or with a 503 that names its own unavailable dependency (it is healthy; the breaker stays
closed); `DependencyUnavailable` when there was no usable answer. A 4xx is never retried. A
500 is an error of the callee on this very request (bad input can cause one): it may be
retried on another replica, but the breaker does not count it, so a few bad requests cannot
open the breaker for everybody; no answer, 502, 503 and 504 count. A 401 means the callee
refused our service token: a misconfiguration of ours, never relayed to our own caller as if
it were theirs, so it counts as a failure too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from instrumentation import ResilienceMetrics, dependency_client
from sample_system.common import auth, config
from sample_system.common.balancer import Balancer
from sample_system.common.discovery import Membership, membership_from_env
from sample_system.common.errors import DependencyRejected
from sample_system.common.resilience import AttemptFailed, Clock, Policy, Resilience, Sleep


def _is_failure(response: httpx.Response) -> bool:
    """A 5xx is a failure of the callee, except our services' own "my dependency is down"."""
    if response.status_code == 401:
        return True
    if response.status_code < 500:
        return False
    if response.status_code == 503:
        try:
            body = response.json()
        except ValueError:
            return True
        return not (isinstance(body, dict) and body.get("error") == "dependency_unavailable")
    return True


class ServiceClient:
    """Calls one dependency over its replicas' addresses under a resilience `Policy`."""

    def __init__(
        self,
        dependency: str,
        endpoints: Sequence[str],
        policy: Policy | None = None,
        *,
        eject_after: int = 2,
        eject_seconds: float = 5.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        metrics: ResilienceMetrics | None = None,
    ) -> None:
        self.dependency = dependency
        self.balancer = Balancer(
            endpoints, eject_after=eject_after, eject_seconds=eject_seconds, clock=clock
        )
        self.resilience = Resilience(
            dependency, policy or Policy(), clock=clock, sleep=sleep, metrics=metrics
        )
        self._clock = clock
        self.membership: Membership | None = None
        self._client = dependency_client(
            dependency,
            transport=transport,
            headers=dict(headers or {}),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )

    def __repr__(self) -> str:
        return f"ServiceClient({self.dependency!r}, {self.balancer.endpoints!r})"

    def deadline_in(self, seconds: float) -> float:
        """An absolute deadline `seconds` from now, on this client's clock."""
        return self._clock() + seconds

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> httpx.Response:
        """Send one logical request; see the module docstring for the outcomes."""
        if self.membership is not None:
            self.membership.start()
        tried: set[str] = set()

        async def attempt(timeout: float) -> httpx.Response:
            url = self.balancer.pick(avoid=tried)
            tried.add(url)
            try:
                response = await self._client.request(
                    method,
                    url + path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=httpx.Timeout(timeout),
                )
            except httpx.TransportError as exc:
                self.balancer.failed(url)
                raise _attempt_failure(exc, timeout) from exc
            self.balancer.succeeded(url)
            if _is_failure(response):
                raise AttemptFailed(
                    "error",
                    f"{method} {path} answered {response.status_code}",
                    maybe_processed=True,
                    unhealthy=response.status_code != 500,
                )
            if response.status_code >= 400:
                raise DependencyRejected(self.dependency, response)
            return response

        return await self.resilience.call(attempt, idempotent=idempotent, deadline=deadline)

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """GET (idempotent, so retried) and decode the JSON body."""
        response = await self.request(
            "GET", path, idempotent=True, params=params, deadline=deadline
        )
        return response.json()

    def follow(self, membership: Membership) -> None:
        """Keep the balancer's endpoints in line with the runtime's registry (discovery.py)."""
        self.membership = membership
        with contextlib.suppress(RuntimeError):  # no running loop: start() on first request
            membership.start()

    async def aclose(self) -> None:
        """Close the connection pool (and stop following the registry)."""
        if self.membership is not None:
            await self.membership.aclose()
        await self._client.aclose()


def _attempt_failure(exc: httpx.TransportError, timeout: float) -> AttemptFailed:
    """Classify a transport error: was it a timeout, and can the request have been sent?"""
    name = type(exc).__name__
    # Connection refused, or a pool wait: the request never left this process.
    not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if isinstance(exc, httpx.TimeoutException):
        return AttemptFailed(
            "timeout", f"{name} after {timeout:.3g}s", maybe_processed=not not_sent
        )
    return AttemptFailed("error", f"{name}: {exc}", maybe_processed=not not_sent)


def policy_from_env(environ: Mapping[str, str], dependency: str, default: Policy) -> Policy:
    """`default`, with overrides from `<DEP>_TIMEOUT_S`, `<DEP>_ATTEMPTS`,
    `<DEP>_BREAKER_OPEN_S` and `<DEP>_MAX_CONCURRENT` (e.g. `PAYMENTS_TIMEOUT_S=0.5`)."""
    prefix = dependency.upper().replace("-", "_")
    return dataclasses.replace(
        default,
        timeout=config.number(environ, f"{prefix}_TIMEOUT_S", default.timeout, minimum=0.001),
        attempts=config.integer(
            environ, f"{prefix}_ATTEMPTS", default.attempts, minimum=1, maximum=10
        ),
        breaker_open_seconds=config.number(
            environ, f"{prefix}_BREAKER_OPEN_S", default.breaker_open_seconds, minimum=0.001
        ),
        max_concurrent=config.integer(
            environ, f"{prefix}_MAX_CONCURRENT", default.max_concurrent, minimum=1
        ),
    )


def client_from_env(
    environ: Mapping[str, str], dependency: str, default: Policy, **options: Any
) -> ServiceClient:
    """A `ServiceClient` for `dependency` at `<DEP>_URLS`, its policy tunable from the env,
    sending the run's secret from `GAMEDAY_RUN_SECRET`.

    `SHOP_EJECT_SECONDS` (default 5) is how long a failing replica stays out of rotation.
    Under the gameday runtime (`GAMEDAY_REGISTRY_URL` set) the replicas follow its registry.
    """
    client = ServiceClient(
        dependency,
        config.urls(environ, dependency),
        policy_from_env(environ, dependency, default),
        eject_seconds=config.number(environ, "SHOP_EJECT_SECONDS", 5.0),
        headers=auth.internal_headers(environ),
        **options,
    )
    membership = membership_from_env(environ, dependency, client.balancer)
    if membership is not None:
        client.follow(membership)
    return client
