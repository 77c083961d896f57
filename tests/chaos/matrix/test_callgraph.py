"""Call graphs: spans written by the real OTLP JSON file exporter, joined with trace ids."""

from __future__ import annotations

from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from chaos.matrix.callgraph import Span, build_call_graph, read_spans
from chaos.system.target import FaultTarget

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _provider(directory: Path, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(FileSpanExporter(directory / f"{service}-1.jsonl"))
    )
    return provider


def _request(directory: Path, trace_id: str, path: list[str], *, message_to: str | None) -> None:
    """One request through `path` (gateway -> ... synchronously), and a message at the end."""
    carrier = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}
    for service in path:
        tracer = _provider(directory, service).get_tracer("test")
        with tracer.start_as_current_span(
            "GET", context=extract(carrier), kind=trace.SpanKind.SERVER
        ), tracer.start_as_current_span("call", kind=trace.SpanKind.CLIENT):
            carrier = {}
            inject(carrier)
    if message_to is not None:  # asynchronous: a consumer span in the same trace
        tracer = _provider(directory, message_to).get_tracer("test")
        with tracer.start_as_current_span(
            "process", context=extract(carrier), kind=trace.SpanKind.CONSUMER
        ):
            pass


def test_services_and_synchronous_edges_from_exported_spans(tmp_path: Path) -> None:
    other = "1" * 32
    _request(tmp_path, TRACE, ["gateway", "orders", "payments"], message_to="notifications")
    _request(tmp_path, other, ["gateway", "catalog"], message_to=None)
    spans = read_spans(tmp_path, {TRACE, other, "f" * 32})
    assert set(spans) == {TRACE, other}
    graph = build_call_graph({"checkout": [TRACE], "browse": [other], "idle": []}, spans)
    checkout = graph.of("checkout")
    assert checkout.traces == 1
    assert checkout.services == {"gateway", "orders", "payments", "notifications"}
    assert checkout.edges == {("gateway", "orders"), ("orders", "payments")}
    assert checkout.reaches(FaultTarget("service", "payments"))
    assert checkout.reaches(FaultTarget("edge", "payments", caller="orders"))
    assert not checkout.reaches(FaultTarget("edge", "payments", caller="gateway"))
    assert not graph.of("browse").reaches(FaultTarget("service", "payments"))
    assert graph.of("idle").traces == 0 and graph.of("never-seen").traces == 0


def test_torn_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    _request(tmp_path, TRACE, ["gateway"], message_to=None)
    with (tmp_path / "gateway-1.jsonl").open("a") as handle:
        handle.write('{"resourceSpans": [{"scopeSpans"')  # a line still being written
    (tmp_path / "notes.txt").write_text("not spans")
    spans = read_spans(tmp_path, {TRACE})[TRACE]
    assert sorted((s.service, s.kind) for s in spans) == [("gateway", 2), ("gateway", 3)]
    assert read_spans(tmp_path / "missing", {TRACE}) == {}


def test_a_server_span_under_its_own_services_client_is_no_edge() -> None:
    spans = {
        TRACE: [
            Span(TRACE, "1", "", "gateway", 2),
            Span(TRACE, "2", "1", "gateway", 3),
            Span(TRACE, "3", "2", "gateway", 2),  # a call to itself (loopback)
        ]
    }
    assert build_call_graph({"j": [TRACE]}, spans).of("j").edges == frozenset()
