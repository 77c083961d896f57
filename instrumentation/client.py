"""httpx clients that record `http_client_request_duration_seconds` per logical dependency.

Callers reach a dependency through addresses that change (proxies, replicas), so the
`server_address` label is the dependency's name given in code, never the host.
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

from instrumentation.metrics import HttpMetrics, http_metrics, method_label, status_label


@dataclass
class _Call:
    status: int | None = None


class _Recorder:
    def __init__(self, dependency: str, metrics: HttpMetrics) -> None:
        if not dependency or not dependency.replace("-", "_").replace(".", "_").isidentifier():
            raise ValueError(
                f"dependency name {dependency!r} must be a short name such as 'payments' "
                "(letters, digits, '-', '_', '.'); it becomes a metric label"
            )
        self.dependency = dependency
        self._histogram = metrics.client_duration
        self._children: dict[tuple[str, str, str], Any] = {}

    @contextlib.contextmanager
    def measure(self, method: str) -> Iterator[_Call]:
        """Time the block; it sets `call.status`, or raises and is recorded as its error."""
        call = _Call()
        start = time.perf_counter()
        try:
            yield call
        except Exception as exc:
            self.record(method, time.perf_counter() - start, None, type(exc).__name__)
            raise
        self.record(method, time.perf_counter() - start, call.status, "")

    def record(self, method: str, seconds: float, status: int | None, error: str) -> None:
        status_text = "" if status is None else status_label(status)
        if not error and status is not None and status >= 500:
            error = status_text  # OpenTelemetry: error.type is the status code for 5xx
        key = (method_label(method), status_text, error)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._histogram.labels(self.dependency, *key)
        context = trace.get_current_span().get_span_context()
        if context.trace_flags.sampled:
            child.observe(seconds, {"trace_id": format(context.trace_id, "032x")})
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
        self._recorder = _Recorder(dependency, http_metrics(registry))
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with self._recorder.measure(request.method) as call:
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
        self._recorder = _Recorder(dependency, http_metrics(registry))
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._recorder.measure(request.method) as call:
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
