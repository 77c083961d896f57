"""The exporter process delivers what the SDK's own exporters would, to a real receiver."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.span import TraceState
from prometheus_client import CollectorRegistry

from instrumentation import instrument, tracing
from instrumentation.settings import read_settings
from instrumentation.span_export import ExporterProcessSpanProcessor
from tests.instrumentation.test_server_spans import Recorder, call, scope_for
from tests.support import serve_in_thread

RESOURCE = Resource.create({"service.name": "exported", "deployment.environment": "test"})


class Receiver:
    """A loopback OTLP/HTTP receiver: every request body is decoded and kept."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.app = FastAPI()

        @self.app.post("/v1/traces")
        async def traces(request: Request) -> Response:
            self.requests.append(ExportTraceServiceRequest.FromString(await request.body()))
            body = ExportTraceServiceResponse().SerializeToString()
            return Response(body, media_type="application/x-protobuf")

    def spans(self) -> dict[bytes, Any]:
        return {
            span.span_id: (span, rs.resource, scope.scope)
            for request in self.requests
            for rs in request.resource_spans
            for scope in rs.scope_spans
            for span in scope.spans
        }


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    found = Receiver()
    with serve_in_thread(found.app) as url:
        yield found, url


def _processor(url: str, **options: Any) -> ExporterProcessSpanProcessor:
    config = {"kind": "otlp_http", "endpoint": f"{url}/v1/traces", "timeout": 5}
    return ExporterProcessSpanProcessor(config, RESOURCE, **options)


def _started(processor: ExporterProcessSpanProcessor) -> int:
    """The exporter process's pid, once the processor's thread has started it."""
    deadline = time.monotonic() + 10
    while processor.pid is None:
        assert time.monotonic() < deadline, "the exporter process did not start"
        time.sleep(0.01)
    return processor.pid


def _make_spans(provider: TracerProvider) -> None:
    """Spans with everything a span can hold: every attribute type, events, links, limits."""
    tracer = provider.get_tracer("tests.export", "1.2.3", schema_url="https://example.test/s")
    other = provider.get_tracer("tests.other", attributes={"lib.kind": "other"})
    linked = SpanContext(
        0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "v1")]),
    )  # fmt: skip
    remote = trace.set_span_in_context(NonRecordingSpan(linked))
    with tracer.start_as_current_span(
        "parent", context=remote, kind=SpanKind.SERVER,
        links=[Link(linked, {"link.n": 1}), Link(linked)],
        attributes={"s": "text", "i": 7, "f": 0.5, "b": True, "tuple": ("a", "b"), "ints": (1, 2)},
    ) as parent:  # fmt: skip
        parent.add_event("checkpoint", {"step": 2})
        parent.add_event("second", {"step": 3})
        with other.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "went wrong"))
            try:
                raise ValueError("bad input")
            except ValueError as exc:
                child.record_exception(exc)
        parent.add_event("third")
        for n in range(40):  # past the span limits below: dropped ones are counted
            parent.set_attribute(f"many.{n}", n)


def test_spans_reach_the_collector_exactly_as_the_sdk_encodes_them(receiver: Any) -> None:
    found, url = receiver
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=32, max_events=2, max_links=1)
    provider = TracerProvider(resource=RESOURCE, span_limits=limits)
    processor = _processor(url)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(processor)
    _make_spans(provider)
    assert processor.force_flush(10_000)
    expected = encode_spans(memory.get_finished_spans())
    wanted = {
        span.span_id: (span, rs.resource, scope.scope)
        for rs in expected.resource_spans
        for scope in rs.scope_spans
        for span in scope.spans
    }
    received = found.spans()
    assert len(wanted) == 2 and received.keys() == wanted.keys()
    for span_id, (span, resource, scope) in wanted.items():
        got_span, got_resource, got_scope = received[span_id]
        assert got_span == span, span.name
        assert got_resource == resource and got_scope == scope
    parent = next(s for s, _, _ in received.values() if s.name == "parent")
    assert parent.dropped_attributes_count > 0, "the limits must have dropped some of each"
    assert parent.dropped_events_count > 0 and parent.dropped_links_count > 0
    provider.shutdown()


def test_the_json_file_exporter_writes_the_same_lines_from_its_process(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.jsonl", tmp_path / "theirs.jsonl"
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(str(theirs))))
    config = {"kind": "otlp_json_file", "path": str(ours)}
    provider.add_span_processor(ExporterProcessSpanProcessor(config, RESOURCE))
    _make_spans(provider)
    provider.shutdown()  # the exporter process writes and closes its file before it exits

    def spans(path: Path) -> dict[str, Any]:
        found = {}
        for line in path.read_text().splitlines():
            for rs in json.loads(line)["resourceSpans"]:
                for scope in rs["scopeSpans"]:
                    for span in scope["spans"]:
                        found[span["spanId"]] = (span, rs["resource"], scope["scope"])
        return found

    assert spans(ours) == spans(theirs) and len(spans(ours)) == 2


def test_the_sdk_api_is_unchanged_beside_the_exporter_process(receiver: Any) -> None:
    found, url = receiver
    settings = read_settings(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": url}, service_name="api", default_service_name="api"
    )
    provider = tracing.build_provider(settings)  # as instrument() builds it: exporter process
    memory, recorder = InMemorySpanExporter(), Recorder()
    provider.add_span_processor(SimpleSpanProcessor(memory))  # a user's plain SDK processors
    provider.add_span_processor(recorder)
    app = FastAPI()

    @app.get("/work")
    async def work() -> dict[str, bool]:
        with trace.get_tracer("user", tracer_provider=provider).start_as_current_span("work"):
            return {"ok": True}

    instrument(app, "api", tracer_provider=provider, registry=CollectorRegistry(), json_logs=False)
    import asyncio

    assert asyncio.run(call(app, scope_for("GET", "/work", b"", []))) == 200
    assert provider.force_flush(10_000)
    names = {s.name: s for s in memory.get_finished_spans()}
    assert names["work"].parent.span_id == names["GET /work"].context.span_id  # type: ignore[union-attr]
    assert recorder.started == ["GET /work", "work"] and recorder.ended == ["work", "GET /work"]
    exported = {span.name: span for span, _, _ in found.spans().values()}
    assert exported.keys() == {"GET /work", "work"}
    assert exported["work"].parent_span_id == names["GET /work"].context.span_id.to_bytes(8, "big")
    provider.shutdown()


def test_shutdown_sends_what_is_queued_and_ends_the_process(receiver: Any) -> None:
    found, url = receiver
    provider = TracerProvider(resource=RESOURCE)
    processor = _processor(url, schedule_delay_millis=60_000)  # only shutdown will send
    provider.add_span_processor(processor)
    for n in range(25):
        provider.get_tracer("t").start_span(f"s{n}").end()
    pid = _started(processor)
    provider.shutdown()
    assert len(found.spans()) == 25
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_killed_exporter_process_is_replaced(receiver: Any) -> None:
    found, url = receiver
    provider = TracerProvider(resource=RESOURCE)
    processor = _processor(url, respawn_pause=0.1)
    provider.add_span_processor(processor)
    provider.get_tracer("t").start_span("before").end()
    assert processor.force_flush(10_000)
    first = _started(processor)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        provider.get_tracer("t").start_span("after").end()
        exported = {span.name for span, _, _ in found.spans().values()}
        if processor.force_flush(2_000) and "after" in exported:
            break
    assert processor.pid not in (None, first)
    provider.shutdown()


def test_a_full_queue_drops_spans_and_says_so_once(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = receiver
    provider = TracerProvider(resource=RESOURCE)
    processor = _processor(url, max_queue_size=5, max_batch_size=1000, schedule_delay_millis=60_000)
    provider.add_span_processor(processor)
    with caplog.at_level(logging.WARNING, logger="instrumentation.span_export"):
        for n in range(50):
            provider.get_tracer("t").start_span(f"s{n}").end()
    assert processor.dropped == 45
    assert len([r for r in caplog.records if "queue full" in r.getMessage()]) == 1
    provider.shutdown()


def test_unsampled_spans_are_not_handed_over(receiver: Any) -> None:
    found, url = receiver
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(resource=RESOURCE, sampler=ALWAYS_OFF)
    processor = _processor(url)
    provider.add_span_processor(processor)
    provider.get_tracer("t").start_span("dropped").end()
    assert processor.pid is None, "no process is started before a sampled span ends"
    provider.shutdown()
    assert found.spans() == {}
