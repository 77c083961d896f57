"""The presampler's decision is the SDK's, for roots and for every kind of parent."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from instrumentation.sampling import Presampler, clear_preset, preset_trace_id, ratio_bound

SAMPLERS = [
    ParentBased(TraceIdRatioBased(0.5)),
    ParentBased(TraceIdRatioBased(0.1)),
    ParentBased(ALWAYS_ON),
    ParentBased(ALWAYS_OFF),
    TraceIdRatioBased(0.5),  # not parent-based: the sampler itself is asked
    ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON),  # non-default parent rules
]
PARENTS = st.one_of(
    st.none(),
    st.builds(
        SpanContext,
        trace_id=st.integers(min_value=1, max_value=2**128 - 1),
        span_id=st.integers(min_value=1, max_value=2**64 - 1),
        is_remote=st.booleans(),
        trace_flags=st.sampled_from([TraceFlags(0), TraceFlags(1), TraceFlags(2), TraceFlags(3)]),
        trace_state=st.sampled_from([TraceState(), TraceState([("vendor", "v1")])]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(SAMPLERS))), PARENTS)
def test_the_presampler_agrees_with_the_sdk(which: int, parent: SpanContext | None) -> None:
    from instrumentation.sampling import PresetTraceIds

    sampler = SAMPLERS[which]
    tracer = TracerProvider(sampler=sampler, id_generator=PresetTraceIds()).get_tracer("t")
    context: Any = Context() if parent is None else trace.set_span_in_context(
        NonRecordingSpan(parent), Context()
    )
    trace_id, dropped = Presampler(sampler).decide(context, SpanKind.SERVER)
    # What the SDK decides for the same trace id (a dropped root never reaches the SDK).
    asked = trace_id or (dropped.trace_id if dropped is not None and parent is None else 0)
    token = preset_trace_id(asked) if asked else None
    try:
        span = tracer.start_span("GET /x", context=context, kind=SpanKind.SERVER)
    finally:
        if token is not None:
            clear_preset(token)
    made = span.get_span_context()
    assert span.is_recording() is (dropped is None)
    if dropped is not None:
        assert (dropped.trace_id, dropped.trace_flags, dropped.trace_state) == (
            made.trace_id,
            made.trace_flags,
            made.trace_state,
        )
        assert not dropped.is_remote and dropped.span_id != 0
    elif parent is None:
        assert made.trace_id == trace_id
    else:
        assert made.trace_id == parent.trace_id and trace_id == 0


def test_only_the_environments_samplers_are_decided_without_the_sampler() -> None:
    assert ratio_bound(ParentBased(TraceIdRatioBased(0.25))) == 2**62
    assert ratio_bound(ParentBased(ALWAYS_OFF)) == 0
    assert ratio_bound(TraceIdRatioBased(0.25)) is None
    assert ratio_bound(ParentBased(ALWAYS_ON, local_parent_not_sampled=ALWAYS_ON)) is None
