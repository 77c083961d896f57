"""httpx clients that record `http_client_request_duration_seconds` per logical dependency.

Callers reach a dependency through addresses that change (proxies, replicas), so the
`server_address` label is the dependency's name given in code, never the host. Requests of
every other httpx client are measured too, by `edges.py`; a request measured here is marked,
so it is never counted twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from instrumentation.exemplars import shared_store
from instrumentation.histogram import observe_traced
from instrumentation.metrics import (
    CLIENT_DURATION,
    DURATION_BUCKETS,
    HttpMetrics,
    http_metrics,
    method_label,
    status_label,
)

# Set on a request's extensions once a recorder measures it (httpx passes them to every
# transport below, and httpcore ignores names it does not know).
MEASURED = "gameday.measured"


def check_dependency_name(dependency: str) -> str:
    """`dependency` if it can be a label value naming a dependency, else ValueError."""
    if not dependency or not dependency.replace("-", "_").replace(".", "_").isidentifier():
        raise ValueError(
            f"dependency name {dependency!r} must be a short name such as 'payments' "
            "(letters, digits, '-', '_', '.'); it becomes a metric label"
        )
    return dependency


@dataclass
class Call:
    """One measured request: the block that makes it sets `status` when a response came."""

    status: int | None = None


class ClientRecorder:
    """Observes client requests in `http_client_request_duration_seconds` of one registry."""

    def __init__(self, metrics: HttpMetrics) -> None:
        self._histogram = metrics.client_duration
        self._children: dict[tuple[str, str, str, str], Any] = {}
        self._exemplars = shared_store()  # None unless metrics are multi-process

    @contextlib.contextmanager
    def measure(self, address: str, method: str) -> Iterator[Call]:
        """Time the block; it sets `call.status`, or raises and is recorded as its error."""
        call = Call()
        start = time.perf_counter()
        try:
            yield call
        except Exception as exc:
            self.record(address, method, time.perf_counter() - start, None, type(exc).__name__)
            raise
        self.record(address, method, time.perf_counter() - start, call.status, "")

    def record(
        self, address: str, method: str, seconds: float, status: int | None, error: str
    ) -> None:
        """One observation, with the caller's trace id as exemplar when it is sampled."""
        status_text = "" if status is None else status_label(status)
        if not error and status is not None and status >= 500:
            error = status_text  # OpenTelemetry: error.type is the status code for 5xx
        key = (address, method_label(method), status_text, error)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._histogram.labels(*key)
        context = trace.get_current_span().get_span_context()
        if context.trace_flags.sampled:
            trace_id = format(context.trace_id, "032x")
            observe_traced(child, seconds, trace_id)
            if self._exemplars is not None:
                self._exemplars.offer(CLIENT_DURATION, DURATION_BUCKETS, key, seconds, trace_id)
        else:
            child.observe(seconds)


class MetricsTransport(httpx.AsyncBaseTransport):
    """An async transport that times every request to one named dependency."""

    def __init__(
        self,
        dependency: str,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.dependency = check_dependency_name(dependency)
        self._recorder = ClientRecorder(http_metrics(registry))
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions[MEASURED] = True
        with self._recorder.measure(self.dependency, request.method) as call:
            response = await self._transport.handle_async_request(request)
            call.status = response.status_code
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


class SyncMetricsTransport(httpx.BaseTransport):
    """The blocking twin of `MetricsTransport`."""

    def __init__(
        self,
        dependency: str,
        transport: httpx.BaseTransport | None = None,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.dependency = check_dependency_name(dependency)
        self._recorder = ClientRecorder(http_metrics(registry))
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions[MEASURED] = True
        with self._recorder.measure(self.dependency, request.method) as call:
            response = self._transport.handle_request(request)
            call.status = response.status_code
        return response

    def close(self) -> None:
        self._transport.close()


def dependency_client(
    dependency: str,
    *,
    registry: CollectorRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **client_options: Any,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` whose requests are measured as calls to `dependency`.

    `client_options` go to `httpx.AsyncClient` (base_url, timeout, headers, ...). Trace context
    is propagated by the process-wide httpx instrumentation that `instrument()` installs.
    """
    return httpx.AsyncClient(
        transport=MetricsTransport(dependency, transport, registry=registry), **client_options
    )
