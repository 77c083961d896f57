"""A sampling gate in front of the FastAPI tracing middleware.

opentelemetry-instrumentation-fastapi collects every request attribute and matches the route
before the sampler is asked, so an unsampled request costs nearly as much as a sampled one
(docs/performance.md has the profile). The gate asks the same sampler first, with the same
inputs: a sampled request goes through the instrumentor unchanged; an unsampled one skips it
and carries a non-recording span, so trace context (with the sampled flag off) still reaches
logs and downstream services exactly as the SDK would have propagated it.

The decisions agree because the gate hands the trace id it sampled on to the SDK through
`PresetTraceIds`, the provider's id generator; the gate is used only with a provider built
that way.
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from starlette.types import ASGIApp, Receive, Scope, Send

from instrumentation.middleware import SPAN_CONTEXT_KEY

_preset_trace_id: ContextVar[int] = ContextVar("gameday_preset_trace_id", default=0)
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT | TraceFlags.RANDOM_TRACE_ID)


def _random_id(bits: int) -> int:
    value = 0
    while value == 0:
        value = random.getrandbits(bits)
    return value


class PresetTraceIds(IdGenerator):
    """Random ids, except that the next root trace id can be chosen beforehand by the gate."""

    def generate_span_id(self) -> int:
        return _random_id(64)

    def generate_trace_id(self) -> int:
        preset = _preset_trace_id.get()
        if preset:
            _preset_trace_id.set(0)
            return preset
        return _random_id(128)

    def is_trace_id_random(self) -> bool:
        return True


class SamplingGate:
    """Routes sampled requests through `traced` and the rest straight to `untraced`."""

    def __init__(self, traced: ASGIApp, untraced: ASGIApp, sampler: Sampler) -> None:
        # `app` is the tracing middleware, under the name middlewares conventionally use: FastAPI
        # walks `.app` to find it, and would otherwise trace every request a second time itself.
        self.app = self.traced = traced
        self.untraced = untraced
        self.sampler = sampler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.traced(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _PROPAGATION_HEADERS
        }
        parent = propagate.extract(carrier) if carrier else otel_context.get_current()
        parent_span = trace.get_current_span(parent).get_span_context()
        trace_id = parent_span.trace_id if parent_span.is_valid else _random_id(128)
        result = self.sampler.should_sample(parent, trace_id, "", SpanKind.SERVER)
        if result.decision.is_sampled():  # type: ignore[no-untyped-call]
            preset = _preset_trace_id.set(0 if parent_span.is_valid else trace_id)
            try:
                await self.traced(scope, receive, send)
            finally:
                _preset_trace_id.reset(preset)
            return
        span_context = SpanContext(
            trace_id,
            _random_id(64),
            is_remote=False,
            trace_flags=_UNSAMPLED,
            trace_state=result.trace_state,
        )
        scope[SPAN_CONTEXT_KEY] = span_context
        token = otel_context.attach(
            trace.set_span_in_context(NonRecordingSpan(span_context), parent)
        )
        try:
            await self.untraced(scope, receive, send)
        finally:
            otel_context.detach(token)


def gate_stack(stack: Any, sampler: Sampler) -> Any:
    """Put a gate around the tracing middleware in a stack built by the FastAPI instrumentor.

    The instrumentor builds ServerErrorMiddleware(OpenTelemetryMiddleware(inner)); the gate
    replaces the middle layer. Any other shape is returned unchanged (no gate, still correct).
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware.errors import ServerErrorMiddleware

    if isinstance(stack, ServerErrorMiddleware) and isinstance(stack.app, OpenTelemetryMiddleware):
        stack.app = SamplingGate(stack.app, stack.app.app, sampler)
    return stack
