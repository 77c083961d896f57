"""`LeanStart` starts the span `Tracer.start_span` starts, field for field, or lets it start it.

Two providers alike in everything (sampler, limits, resource, ids from the same sequence), one
started through `Tracer.start_span`, one through `LeanStart`: on every row of parents and
samplers their spans, what a plain span processor sees in `on_start`, and their exported form
must be equal; and where the shortcut would not be exact it must not be taken.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import TraceState

from instrumentation.span_start import LeanStart

ATTRIBUTES: dict[str, Any] = {
    "url.scheme": "http",
    "server.address": "127.0.0.1:8000",
    "server.port": 8000,
    "network.protocol.version": "1.1",
    "url.path": "/items/7",
    "http.request.method": "GET",
    "client.address": "127.0.0.1",
    "client.port": 5555,
    "user_agent.original": "tests",
    "http.route": "/items/{item_id}",
    "sampled.ratio": 0.5,
    "internal": True,
}


class Counting(IdGenerator):
    """Ids from a sequence, so two providers hand out the same ones."""

    def __init__(self) -> None:
        self.ids = itertools.count(0x1234567890ABCDEF)

    def generate_span_id(self) -> int:
        return next(self.ids)

    def generate_trace_id(self) -> int:
        return next(self.ids) << 64 | next(self.ids)

    def is_trace_id_random(self) -> bool:
        return True  # as gameday's PresetTraceIds: root spans get the random-trace-id flag


class Seen(SpanProcessor):
    """A plain SDK processor: what `on_start` and `on_end` saw."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any], Any]] = []
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.started.append((span.name, dict(span.attributes), parent_context))

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


class Renaming(Sampler):
    """A sampler that changes the attributes: the shortcut must not be taken."""

    def should_sample(self, parent_context: Any, trace_id: int, name: str, *args: Any,
                      **kwargs: Any) -> SamplingResult:  # fmt: skip
        return SamplingResult(Decision.RECORD_AND_SAMPLE, {"sampler.says": "hi"})

    def get_description(self) -> str:
        return "Renaming"


def pair(sampler: Sampler, limits: SpanLimits | None = None) -> list[tuple[Any, Seen, Any]]:
    """(tracer, processor, exporter) for the upstream path and for the lean one."""
    made = []
    for _ in range(2):
        provider = TracerProvider(
            sampler=sampler,
            resource=Resource.create({"service.name": "start"}),
            id_generator=Counting(),
            span_limits=limits,
        )
        seen, exporter = Seen(), InMemorySpanExporter()
        provider.add_span_processor(seen)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        made.append((provider.get_tracer("tests.start", "1.0"), seen, exporter))
    return made


def parent_context(kind: str) -> Context:
    if kind == "root":
        return Context()
    flags = TraceFlags(TraceFlags.SAMPLED if kind.endswith("sampled") else TraceFlags.DEFAULT)
    remote = kind.startswith("remote")
    span_context = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=remote,
        trace_flags=flags, trace_state=TraceState([("vendor", "x")]),
    )  # fmt: skip
    return trace.set_span_in_context(NonRecordingSpan(span_context), Context())


def fields(span: Any) -> dict[str, Any]:
    if not isinstance(span, SdkSpan):
        return {"type": type(span), "context": span.get_span_context()}
    return {
        "type": type(span),
        "name": span.name,
        "context": span.context,
        "parent": span.parent,
        "kind": span.kind,
        "attributes": dict(span.attributes),
        "dropped": span.dropped_attributes,
        "resource": span.resource,
        "scope": span.instrumentation_scope,
        "status": (span.status.status_code, span.status.description),
        "events": span.events,
        "links": span.links,
    }


def exported(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    """The finished spans as the SDK writes them, without their times."""
    spans = [json.loads(span.to_json()) for span in exporter.get_finished_spans()]
    for span in spans:
        span.pop("start_time"), span.pop("end_time")
    return spans


SAMPLERS = {
    "always_on": ALWAYS_ON,
    "always_off": ALWAYS_OFF,
    "ratio": TraceIdRatioBased(0.5),
    "parentbased_always_on": ParentBased(ALWAYS_ON),
    "parentbased_ratio": ParentBased(TraceIdRatioBased(0.5)),
}
PARENTS = ("root", "remote-sampled", "remote-unsampled", "local-sampled", "local-unsampled")


@pytest.mark.parametrize("parent", PARENTS)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_the_span_is_the_one_the_tracer_starts(sampler: str, parent: str) -> None:
    (upstream, upstream_seen, upstream_out), (lean, lean_seen, lean_out) = pair(SAMPLERS[sampler])
    starter = LeanStart(lean)
    assert starter.lean
    for kind in (SpanKind.SERVER, SpanKind.INTERNAL):
        context = parent_context(parent)
        theirs = upstream.start_span("GET /items/{item_id}", context=context, kind=kind,
                                     attributes=dict(ATTRIBUTES))  # fmt: skip
        ours = starter.start("GET /items/{item_id}", context, kind, dict(ATTRIBUTES))
        assert fields(ours) == fields(theirs)
        for span in (theirs, ours):
            span.set_attribute("http.response.status_code", 200)
            span.end()
    assert lean_seen.started == upstream_seen.started
    assert [fields(s) for s in lean_seen.ended] == [fields(s) for s in upstream_seen.ended]
    assert exported(lean_out) == exported(upstream_out)


def test_processors_see_the_attributes_when_the_span_starts() -> None:
    (_, _, _), (lean, seen, _) = pair(ALWAYS_ON)
    LeanStart(lean).start("GET /", Context(), SpanKind.SERVER, dict(ATTRIBUTES))
    assert seen.started[0][1] == ATTRIBUTES


@pytest.mark.parametrize(
    ("why", "sampler", "limits", "attributes"),
    [
        ("a sampler that changes attributes", Renaming(), None, ATTRIBUTES),
        ("a length limit", ALWAYS_ON, SpanLimits(max_span_attribute_length=4), ATTRIBUTES),
        ("too few attributes allowed", ALWAYS_ON, SpanLimits(max_span_attributes=3), ATTRIBUTES),
        ("a value cleaning would change", ALWAYS_ON, None, {**ATTRIBUTES, "list": ["a", 1]}),
        ("a value cleaning would drop", ALWAYS_ON, None, {**ATTRIBUTES, "bad": object()}),
        ("an empty key", ALWAYS_ON, None, {**ATTRIBUTES, "": "x"}),
    ],
)
def test_where_the_shortcut_would_differ_the_tracer_starts_the_span(
    why: str, sampler: Sampler, limits: SpanLimits | None, attributes: dict[str, Any]
) -> None:
    (upstream, upstream_seen, _), (lean, lean_seen, _) = pair(sampler, limits)
    theirs = upstream.start_span("GET /", context=Context(), kind=SpanKind.SERVER,
                                 attributes=dict(attributes))  # fmt: skip
    ours = LeanStart(lean).start("GET /", Context(), SpanKind.SERVER, dict(attributes))
    assert fields(ours) == fields(theirs), why
    assert lean_seen.started == upstream_seen.started, why


def test_a_tracer_it_does_not_know_is_left_to_start_its_own_spans() -> None:
    class Custom(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            return SamplingResult(Decision.RECORD_AND_SAMPLE)

        def get_description(self) -> str:
            return "Custom"

    (_, _, _), (tracer, _, _) = pair(ALWAYS_ON)
    assert not LeanStart(trace.NoOpTracer()).lean
    assert not LeanStart(pair(Custom())[1][0]).lean
    assert not LeanStart(pair(ParentBased(ALWAYS_ON, remote_parent_sampled=Custom()))[1][0]).lean
    span = LeanStart(trace.NoOpTracer()).start("GET /", Context(), SpanKind.SERVER, {})
    assert not span.is_recording()
    assert LeanStart(tracer).lean
