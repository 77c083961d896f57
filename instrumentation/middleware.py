"""A pure ASGI middleware: RED metrics per route template, plus the health and metrics paths.

It sits outside everything else in the app (tracing included), so `/healthz`, `/readyz` and
`/metrics` are answered before any tracing or user middleware runs, and the duration it
records covers the whole stack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import Token
from functools import lru_cache
from typing import Any

from opentelemetry.context import Context, detach
from prometheus_client import CollectorRegistry
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instrumentation.exemplars import shared_store
from instrumentation.exposition import METRICS_PATH, render
from instrumentation.health import HEALTH_PATH, READY_PATH, Readiness, serve_health
from instrumentation.histogram import observe_traced
from instrumentation.inflight import InFlight, in_flight
from instrumentation.metrics import (
    DURATION_BUCKETS,
    KNOWN_METHODS,
    OTHER_METHOD,
    SERVER_DURATION,
    UNMATCHED_ROUTE,
    HttpMetrics,
    multiprocess_dir,
    status_label,
)

logger = logging.getLogger(__name__)

# Set by the tracing hook: the server span's context, read here to attach a trace exemplar.
SPAN_CONTEXT_KEY = "gameday.span_context"

OWN_PATHS = frozenset({HEALTH_PATH, READY_PATH, METRICS_PATH})


def matched_route(scope: Scope) -> Any:
    """What the router matched, with the template in its `path`; None before routing.

    FastAPI 0.16x no longer copies the routes of `include_router(router, prefix=...)`: the
    scope's `route` is the router's own (`/users/{id}`), and the template with the prefix
    (`/v1/users/{id}`) is FastAPI's `effective_route_context`, one object per inclusion.
    """
    state = scope.get("fastapi")
    if state is not None:
        effective = state.get("effective_route_context")
        if effective is not None:
            return effective
    return scope.get("route")


def route_template(scope: Scope, initial_root_path: str, app: Any) -> str:
    """The route template that served `scope` in `app`, or UNMATCHED; never the raw path.

    Read after the request: the router leaves the matched route in the scope; a mounted app
    leaves its own root path (and its own `app`) there too, so the outer app is passed in.
    """
    route = matched_route(scope)
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    prefix = scope.get("root_path", "")[len(initial_root_path) :]
    if not prefix:
        return path
    mount = _mount_template(app, prefix) if app is not None else None
    return UNMATCHED_ROUTE if mount is None else mount + path


@lru_cache(maxsize=256)
def _mount_template(app: Any, prefix: str) -> str | None:
    # The root path a Mount sets holds the matched text (`/users/42`); report its template.
    for route in getattr(app, "routes", ()):
        if isinstance(route, Mount) and route.path_regex.match(prefix + "/"):
            return route.path
    return None


Dispatch = Callable[[Scope], tuple[ASGIApp, "Token[Context] | None"]]
"""`ServerSpans.dispatch` of the app inside: which app serves a request, and the OpenTelemetry
context token to detach after it. Given one, `RedMiddleware` runs the tracing layer's work
in its own coroutine instead of awaiting that layer's."""


class RedMiddleware:
    """Records `http_server_request_duration_seconds` and `http_server_active_requests`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        readiness: Readiness,
        registry: CollectorRegistry | None,
        on_error: Callable[[str, BaseException], None],
        dispatch: Dispatch | None = None,
    ) -> None:
        self.app = app
        self.dispatch = dispatch
        self.metrics = metrics
        self.readiness = readiness
        self.registry = registry
        self.on_error = on_error
        # labels() takes a lock and builds tuples; children are cached per label set.
        self._durations: dict[tuple[str, str, str], Any] = {}
        self._by_route: dict[tuple[str, int, int], tuple[Any, Any, tuple[str, str, str]]] = {}
        self._active: dict[str, InFlight] = {}
        self._exemplars = shared_store()  # None unless metrics are multi-process
        self._multiprocess = multiprocess_dir() is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path: str = scope.get("root_path", "")
        path: str = scope["path"][len(root_path) :] if root_path else scope["path"]
        if path in OWN_PATHS:
            await self._serve_own(path, scope, send)
            return

        start = time.perf_counter()
        outer_app = scope.get("app")
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        active = self._active.get(method)
        if active is None:
            child = self.metrics.server_active.labels(method)
            active = self._active[method] = in_flight(child, multiprocess=self._multiprocess)
        active.enter()
        status = 500  # what the client sees when the app fails before starting a response

        # Not a coroutine: it returns `send`'s awaitable for the caller to await, which saves
        # a coroutine per message (2-3 k instructions per request).
        def send_with_status(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        token = None
        try:
            app, token = (self.app, None) if self.dispatch is None else self.dispatch(scope)
            await app(scope, receive, send_with_status)
        finally:
            if token is not None:
                detach(token)
            active.leave()
            try:
                elapsed = time.perf_counter() - start
                self._observe(scope, root_path, outer_app, method, status, elapsed)
            except Exception as exc:  # metrics must never fail a request
                self.on_error("recording request metrics", exc)

    def _observe(
        self, scope: Scope, root_path: str, app: Any, method: str, status: int, seconds: float
    ) -> None:
        child, labels = self._child(scope, root_path, app, method, status)
        context = scope.get(SPAN_CONTEXT_KEY)
        if context is not None and context.trace_flags.sampled:
            trace_id = format(context.trace_id, "032x")
            observe_traced(child, seconds, trace_id)
            if self._exemplars is not None:
                self._exemplars.offer(SERVER_DURATION, DURATION_BUCKETS, labels, seconds, trace_id)
        else:
            child.observe(seconds)

    def _child(
        self, scope: Scope, root_path: str, app: Any, method: str, status: int
    ) -> tuple[Any, tuple[str, str, str]]:
        """The duration histogram's child for this request, and its label values.

        A request that crossed no mount (its root path is the one it came in with) is looked
        up by what the router matched (`matched_route`): that and the status give the
        labels, so the template and the status label are not rebuilt per request. Routes are
        unhashable (they define `__eq__`), hence `id()`, checked against the object kept
        beside the child.
        """
        route = matched_route(scope)
        fast = route is not None and scope.get("root_path", "") == root_path
        if fast:
            found = self._by_route.get((method, id(route), status))
            if found is not None and found[0] is route:
                return found[1], found[2]
        key = (method, route_template(scope, root_path, app), status_label(status))
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = self.metrics.server_duration.labels(*key)
        if fast:
            self._by_route[(method, id(route), status)] = (route, child, key)
        return child, key

    async def _serve_own(self, path: str, scope: Scope, send: Send) -> None:
        if path != METRICS_PATH:
            await serve_health(path, self.readiness, send)
            return
        accept = ""
        for name, value in scope.get("headers", ()):
            if name == b"accept":
                accept = value.decode("latin-1")
        body, content_type = render(self.registry, accept)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
