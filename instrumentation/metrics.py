"""HTTP RED metric families, named as OpenTelemetry's HTTP conventions render in Prometheus.

One set of families per registry, created on first use: instrumenting twice, or two apps in
one process, share them instead of failing on duplicate registration. Label values come only
from route templates, a fixed set of methods and status codes, and dependency names given in
code — never from raw request input.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram

from instrumentation.histogram import histogram_class

# OpenTelemetry's advisory boundaries for http.server/client.request.duration (seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"}
)
OTHER_METHOD = "_OTHER"
UNMATCHED_ROUTE = "UNMATCHED"

T = TypeVar("T")

SERVER_DURATION = "http_server_request_duration_seconds"
CLIENT_DURATION = "http_client_request_duration_seconds"
SERVER_LABELS = ("http_request_method", "http_route", "http_response_status_code")
CLIENT_LABELS = ("server_address", "http_request_method", "http_response_status_code", "error_type")
HISTOGRAM_LABELS = {SERVER_DURATION: SERVER_LABELS, CLIENT_DURATION: CLIENT_LABELS}


def multiprocess_dir() -> str | None:
    """The multi-process directory prometheus-client uses, when one is configured."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112


def method_label(method: str) -> str:
    """The method as a label value: known methods as-is, anything else `_OTHER`."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    """A status code as a label value; values outside 100-599 collapse to `0`."""
    return str(status) if 100 <= status <= 599 else "0"


@dataclass(frozen=True)
class HttpMetrics:
    """The server and client HTTP metric families of one registry."""

    server_duration: Histogram
    server_active: Gauge
    client_duration: Histogram


class PerRegistry(Generic[T]):
    """Builds a set of metric families once per registry (the global one by default)."""

    def __init__(self, build: Callable[[CollectorRegistry], T]) -> None:
        self._build = build
        self._built: weakref.WeakKeyDictionary[CollectorRegistry, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, registry: CollectorRegistry | None = None) -> T:
        registry = REGISTRY if registry is None else registry
        with self._lock:
            found = self._built.get(registry)
            if found is None:
                found = self._built[registry] = self._build(registry)
            return found


def _build_http_metrics(registry: CollectorRegistry) -> HttpMetrics:
    return HttpMetrics(
        server_duration=histogram_class()(
            SERVER_DURATION,
            "Duration of HTTP server requests.",
            SERVER_LABELS,
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        server_active=Gauge(
            "http_server_active_requests",
            "Number of active HTTP server requests.",
            ["http_request_method"],
            multiprocess_mode="livesum",
            registry=registry,
        ),
        client_duration=histogram_class()(
            CLIENT_DURATION,
            "Duration of HTTP client requests, per logical dependency.",
            CLIENT_LABELS,
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
    )


http_metrics = PerRegistry(_build_http_metrics)
"""The HTTP metric families registered in a registry (the global one by default)."""
