"""Starting a server span as `opentelemetry.sdk.trace.Tracer.start_span` does, minus one check.

The SDK cleans every attribute a span starts with (`BoundedAttributes` walks the mapping,
type-checks each value and takes a lock per key): for the ten or so request attributes of a
server span that is about a sixth of what starting it costs. The attributes `ServerSpans`
builds are plain `str`/`int`/`bool`/`float` values, which cleaning returns unchanged, so
`LeanStart` fills the span's `BoundedAttributes` with them directly — before the span
starts, so span processors' `on_start` sees them — and otherwise does exactly what
`Tracer.start_span` does: same sampler call, ids, flags, trace state, tracer metrics,
limits, processors. The result is the SDK's own span class.

It is used only where that equivalence holds; everywhere else `Tracer.start_span` runs:
- the tracer is the SDK's `Tracer` with the attributes this module reads (checked once);
- the sampler is one of the SDK's (`ALWAYS_ON`/`ALWAYS_OFF`, `TraceIdRatioBased`,
  `ParentBased` of those), which hand the attributes to the span unchanged;
- the span limits truncate nothing (no attribute length limit, room for every attribute);
- every value is exactly a `str`, `int`, `bool` or `float` and every key a non-empty `str`.

tests/instrumentation/test_span_start.py compares its spans with `Tracer.start_span`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

_PLAIN = frozenset({str, int, bool, float})
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_TRACER_FIELDS = (
    "sampler", "resource", "span_processor", "id_generator", "instrumentation_info",
    "_span_limits", "_instrumentation_scope", "_tracer_metrics", "_tracer_config",
)  # fmt: skip


def _passes_attributes_through(sampler: Sampler) -> bool:
    """Whether the sampler's result carries the attributes it was given, unchanged."""
    if type(sampler) in (StaticSampler, TraceIdRatioBased):
        return True
    if type(sampler) is ParentBased:
        return all(
            _passes_attributes_through(part)
            for part in (
                sampler._root,
                sampler._remote_parent_sampled,
                sampler._remote_parent_not_sampled,
                sampler._local_parent_sampled,
                sampler._local_parent_not_sampled,
            )
        )
    return False


class LeanStart:
    """`start(name, parent, kind, attributes)`: the span `tracer.start_span` would start."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        self.lean = (
            type(tracer) is sdk_trace.Tracer
            and all(hasattr(tracer, name) for name in _TRACER_FIELDS)
            and hasattr(sdk_trace, "_Span")
            and _passes_attributes_through(tracer.sampler)
        )

    def _trusted(self, attributes: Mapping[str, Any]) -> bool:
        limits = self.tracer._span_limits
        most = limits.max_span_attributes
        if limits.max_span_attribute_length is not None or (
            most is not None and len(attributes) > most
        ):
            return False
        plain = _PLAIN
        for key, value in attributes.items():
            if type(value) not in plain or type(key) is not str or not key:
                return False
        return True

    def start(self, name: str, parent: Context, kind: SpanKind, attributes: dict[str, Any]) -> Any:
        """Start the span; `attributes` become its own (the caller must not change them)."""
        tracer = self.tracer
        if not (self.lean and tracer._tracer_config.is_enabled and self._trusted(attributes)):
            return tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        # From here on, Tracer.start_span (opentelemetry-sdk 1.45), with links=().
        parent_span_context: SpanContext | None = trace.get_current_span(parent).get_span_context()
        if parent_span_context is None or not parent_span_context.is_valid:
            parent_span_context = None
            trace_id = tracer.id_generator.generate_trace_id()
        else:
            trace_id = parent_span_context.trace_id
        result = tracer.sampler.should_sample(parent, trace_id, name, kind, attributes, ())
        sampled = result.decision.is_sampled()
        random_trace_id = (
            tracer.id_generator.is_trace_id_random()
            if parent_span_context is None
            else parent_span_context.trace_flags.random_trace_id
        )
        if random_trace_id:
            flags = _SAMPLED_RANDOM if sampled else TraceFlags(TraceFlags.RANDOM_TRACE_ID)
        else:
            flags = _SAMPLED if sampled else TraceFlags(TraceFlags.DEFAULT)
        span_context = SpanContext(
            trace_id,
            tracer.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=result.trace_state,
        )
        record_end_metrics = tracer._tracer_metrics.start_span(parent_span_context, result.decision)
        if not result.decision.is_recording():
            return trace.NonRecordingSpan(context=span_context)
        span = sdk_trace._Span(
            name=name,
            context=span_context,
            parent=parent_span_context,
            sampler=tracer.sampler,
            resource=tracer.resource,
            attributes=None,
            span_processor=tracer.span_processor,
            kind=kind,
            links=(),
            instrumentation_info=tracer.instrumentation_info,
            limits=tracer._span_limits,
            instrumentation_scope=tracer._instrumentation_scope,
            record_end_metrics=record_end_metrics,
        )
        # What BoundedAttributes(attributes) holds for plain values within the limits.
        span._attributes._dict.update(attributes)  # type: ignore[union-attr]
        span.start(parent_context=parent)
        return span
