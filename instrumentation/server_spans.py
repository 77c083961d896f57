"""Server spans as opentelemetry-instrumentation-fastapi makes them, with less work per request.

`ServerSpans` takes the place of the instrumentor's `OpenTelemetryMiddleware` in the stack the
instrumentor built, and keeps that middleware as `.app`: FastAPI's own telemetry finds it
there (and steps aside), and every request this class does not handle itself (websockets,
the legacy attribute names, OpenTelemetry metrics) goes through it unchanged.

For an HTTP request it produces the span the instrumentor would — name, kind, attributes,
status, events, parent, hooks, response propagator — calling the instrumentor's own helpers
for the attributes, and skips what the instrumentor does for nothing here:

- the route lookup for the span name runs on a cached route table (`routes.RouteTable`);
- attributes are not set a second time after the span started, receive/send wrappers and
  OpenTelemetry metric attributes (a no-op meter) are not built;
- when the provider's sampler can say no, it is asked first, with the same inputs the SDK
  gives it: an unsampled request gets a non-recording span (its trace context still reaches
  logs and downstream services, with the sampled flag off) and no attribute work at all.
  The SDK's own decision agrees because the trace id asked about is handed to it through
  the provider's id generator (`sampling.PresetTraceIds`).

tests/instrumentation/test_server_spans.py compares its spans with the instrumentor's.
"""

from __future__ import annotations

from contextvars import Token
from functools import partial
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import (
    _SUPPRESS_HTTP_INSTRUMENTATION_KEY,
    _SUPPRESS_INSTRUMENTATION_KEY,
    Context,
)
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.asgi import (
    OpenTelemetryMiddleware,
    asgi_getter,
    asgi_setter,
    collect_custom_headers_attributes,
    get_host_port_url_tuple,
)
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.metrics import NoOpMeter
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode
from opentelemetry.util.http import normalise_request_header_name, normalise_response_header_name
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instrumentation.middleware import SPAN_CONTEXT_KEY
from instrumentation.routes import RouteTable
from instrumentation.sampling import Presampler, clear_preset, preset_trace_id
from instrumentation.span_attributes import RequestAttributes, decode_header, response_status
from instrumentation.span_start import LeanStart

_EMPTY = Context()


def _fast_carrier_fields() -> frozenset[bytes] | None:
    """Header names the global propagator reads, when `fields` names all of them.

    True for the default W3C trace-context + baggage propagator; a propagator that may read
    other headers (Jaeger's `uberctx-*` baggage) gets the whole scope, as upstream gives it.
    """
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    textmap = propagate.get_global_textmap()
    parts = getattr(textmap, "_propagators", None) if type(textmap) is CompositePropagator else None
    known = (TraceContextTextMapPropagator, W3CBaggagePropagator)
    if parts is None or not all(type(p) in known for p in parts):
        return None
    return frozenset(field.encode() for field in textmap.fields)


def supported(upstream: OpenTelemetryMiddleware) -> bool:
    """Whether `ServerSpans` reproduces this configuration of the instrumentor exactly."""
    return (
        upstream._sem_conv_opt_in_mode is _StabilityMode.HTTP
        and isinstance(upstream.meter, NoOpMeter)
        and upstream.exclude_receive_span
        and upstream.exclude_send_span
        and getattr(upstream.default_span_details, "__module__", "")
        == "opentelemetry.instrumentation.fastapi"
    )


def _without_exception_recording(inner: Any) -> Any:
    """`inner` without the instrumentor's exception-recording layer, when it has one.

    The instrumentor builds ServerErrorMiddleware(ExceptionHandlerMiddleware(app)); that
    middle layer records an exception on the current span if it is recording, which an
    unsampled request's span never is, so those requests skip it.
    """
    from starlette.middleware.errors import ServerErrorMiddleware

    layer: Any = getattr(inner, "app", None)
    if type(inner) is not ServerErrorMiddleware or type(layer).__name__ != (
        "ExceptionHandlerMiddleware"
    ):
        return inner
    return ServerErrorMiddleware(layer.app, handler=inner.handler, debug=inner.debug)


class ServerSpans:
    """An ASGI middleware making the FastAPI instrumentor's server spans; see the module doc."""

    def __init__(self, upstream: OpenTelemetryMiddleware, sampler: Sampler | None) -> None:
        self.app = upstream  # the name FastAPI and other middleware walk the stack by
        self.inner = upstream.app
        self.untraced = _without_exception_recording(self.inner)
        self.tracer = upstream.tracer
        self.starter = LeanStart(upstream.tracer)
        self.hook = upstream.server_request_hook
        self.request_headers = upstream.http_capture_headers_server_request
        self.response_headers = upstream.http_capture_headers_server_response
        self.sanitize = upstream.http_capture_headers_sanitize_fields
        excluded = upstream.excluded_urls
        self.excluded = excluded if getattr(excluded, "_excluded_urls", True) else None
        self.presampler = Presampler(sampler) if sampler is not None else None
        self.routes = RouteTable()
        self.attributes = RequestAttributes()
        self._fields = _fast_carrier_fields()

    def _extract(self, scope: Scope) -> Context:
        fields = self._fields
        if fields is None:
            try:
                return propagate.extract(scope, getter=asgi_getter)  # type: ignore[misc]
            except UnicodeDecodeError:  # upstream cannot decode a header (see decode_header)
                return _EMPTY
        carrier: dict[str, list[str]] = {}
        for name, value in scope.get("headers", ()):
            if name in fields:
                carrier.setdefault(decode_header(name), []).append(decode_header(value))
        return propagate.extract(carrier) if carrier else _EMPTY

    def _excluded(self, scope: Scope) -> bool:
        assert self.excluded is not None
        try:
            url = get_host_port_url_tuple(scope)[2]  # type: ignore[no-untyped-call]
        except UnicodeDecodeError:  # a Host upstream cannot decode (see decode_header): traced
            return False
        return bool(self.excluded.url_disabled(url))

    def _captured(self, carrier: Any, names: Any, normalise: Any) -> dict[str, Any]:
        """The configured headers of `carrier` as span attributes, as upstream captures them;
        none when upstream's decoding fails on one (see `decode_header`), which would fail
        the request."""
        try:
            return collect_custom_headers_attributes(dict(carrier), self.sanitize, names, normalise)
        except UnicodeDecodeError:
            return {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app, token = self.dispatch(scope)
        try:
            await app(scope, receive, send)
        finally:
            if token is not None:
                otel_context.detach(token)

    def dispatch(self, scope: Scope) -> tuple[ASGIApp, Token[Context] | None]:
        """The app that serves this request, and the context token to detach after it.

        Not a coroutine, so that `RedMiddleware`, which runs right outside, can call it and
        await the app itself: one coroutine less per request (5 k instructions). An unsampled
        request's non-recording span is attached here (the token); a sampled one gets
        `_traced`, which attaches and detaches its own span.
        """
        current = otel_context.get_current()
        if (
            scope["type"] != "http"
            or current.get(_SUPPRESS_INSTRUMENTATION_KEY)
            or current.get(_SUPPRESS_HTTP_INSTRUMENTATION_KEY)
        ):
            return self.app, None  # the instrumentor decides, as before
        if self.excluded is not None and self._excluded(scope):
            return self.inner, None
        if trace.get_current_span(current) is trace.INVALID_SPAN:
            parent, kind = self._extract(scope), SpanKind.SERVER
        else:
            parent, kind = current, SpanKind.INTERNAL
        trace_id = 0
        if self.presampler is not None:
            trace_id, dropped = self.presampler.decide(parent, kind)
            if dropped is not None:
                scope[SPAN_CONTEXT_KEY] = dropped
                span = NonRecordingSpan(dropped)
                return self.untraced, otel_context.attach(trace.set_span_in_context(span, parent))
        return partial(self._traced, parent, kind, trace_id), None

    async def _traced(
        self,
        parent: Context,
        kind: SpanKind,
        trace_id: int,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        name, route = self.routes.span_details(scope, self.attributes.method)
        attributes = self.attributes(scope)
        if route:
            attributes[HTTP_ROUTE] = route
        preset = preset_trace_id(trace_id) if trace_id else None
        try:
            span = self.starter.start(name, parent, kind, attributes)
        finally:
            if preset is not None:
                clear_preset(preset)
        if self.request_headers and span.is_recording() and kind is SpanKind.SERVER:
            captured = self._captured(scope, self.request_headers, normalise_request_header_name)
            if captured:
                span.set_attributes(captured)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            if self.hook is not None:
                self.hook(span, scope)
            await self.inner(scope, receive, self._send_for(span, kind, send))
        except Exception as exc:  # as trace.use_span records it around the instrumentor's call
            if span.is_recording():
                span.record_exception(exc)
                span.set_status(
                    Status(StatusCode.ERROR, description=f"{type(exc).__name__}: {exc}")
                )
            raise
        finally:
            otel_context.detach(token)
            if span.is_recording():
                span.end()

    def _send_for(self, span: Any, kind: SpanKind, send: Send) -> Send:
        response_headers = self.response_headers

        async def traced_send(message: Message) -> None:
            kind_of_message = message["type"]
            if (
                response_headers
                and "headers" in message
                and kind is SpanKind.SERVER
                and span.is_recording()
            ):
                captured = self._captured(message, response_headers, normalise_response_header_name)
                if captured:
                    span.set_attributes(captured)
            if kind_of_message == "http.response.start" and message["status"]:
                response_status(span, message["status"])
            propagator = get_global_response_propagator()  # type: ignore[no-untyped-call]
            if propagator:
                propagator.inject(
                    message, context=trace.set_span_in_context(span, Context()), setter=asgi_setter
                )
            await send(message)
            if kind_of_message == "http.response.body" and not message.get("more_body", False):
                span.end()

        return traced_send
