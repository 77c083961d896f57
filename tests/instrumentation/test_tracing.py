"""Traces on real uvicorn servers: propagation, the sampling gate, redaction."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from instrumentation import instrument
from instrumentation.sampling import PresetTraceIds
from tests.instrumentation.apps import build_app
from tests.support import serve_in_thread

SECRETS = ("hunter2", "s3cret", "chocolate")


def _servers(spans: list[ReadableSpan], url: str) -> list[ReadableSpan]:
    """Server spans of the service listening at `url`."""
    port = int(url.rsplit(":", 1)[1])
    return [
        s
        for s in spans
        if s.kind is SpanKind.SERVER and (s.attributes or {}).get("server.port") == port
    ]


def _provider(sampler: object) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, id_generator=PresetTraceIds())  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_one_trace_across_two_services(spans: InMemorySpanExporter) -> None:
    downstream = build_app("inventory")
    instrument(downstream, registry=CollectorRegistry(), json_logs=False)
    with serve_in_thread(downstream) as down_url:
        upstream = build_app("orders", downstream=down_url)
        instrument(upstream, registry=CollectorRegistry(), json_logs=False)
        with serve_in_thread(upstream) as up_url:
            body = httpx.get(f"{up_url}/chain").json()
    assert body["downstream"] == {"id": 7}

    finished = spans.get_finished_spans()
    (server_a,) = [s for s in finished if s.kind is SpanKind.SERVER and s.name == "GET /chain"]
    clients = [s for s in finished if s.kind is SpanKind.CLIENT]
    (server_b,) = [
        s for s in finished if s.kind is SpanKind.SERVER and s.name == "GET /items/{item_id}"
    ]
    (client,) = [c for c in clients if c.parent and c.parent.span_id == server_a.context.span_id]

    assert client.context.trace_id == server_a.context.trace_id == server_b.context.trace_id
    assert server_b.parent is not None and server_b.parent.is_remote
    assert server_b.parent.span_id == client.context.span_id
    assert (
        server_b.attributes is not None and server_b.attributes["http.route"] == "/items/{item_id}"
    )
    # FastAPI's own telemetry must not trace the request a second time.
    assert len([s for s in finished if s.kind is SpanKind.SERVER]) == 2
    assert body["traceparent"].split("-")[1] == format(server_a.context.trace_id, "032x")


def test_credentials_never_reach_spans(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    downstream = build_app("vault")
    instrument(downstream, registry=CollectorRegistry(), json_logs=False)
    with serve_in_thread(downstream) as down_url:
        upstream = build_app("front", downstream=down_url)
        instrument(upstream, registry=CollectorRegistry(), json_logs=False)
        with serve_in_thread(upstream) as up_url:
            response = httpx.get(
                f"{up_url}/chain?token=hunter2&page=3",
                headers={"Authorization": "Basic hunter2", "Cookie": "session=chocolate"},
            )
            assert response.status_code == 200
    finished = spans.get_finished_spans()
    assert finished
    everything = repr([(s.name, dict(s.attributes or {})) for s in finished])
    for secret in SECRETS:
        assert secret not in everything, f"{secret!r} leaked into {everything}"
    (front,) = [s for s in finished if s.kind is SpanKind.SERVER and s.name == "GET /chain"]
    assert front.attributes is not None
    assert front.attributes["url.query"] == "token=REDACTED&page=3"
    assert front.attributes["http.request.header.authorization"] == ("[REDACTED]",)
    assert front.attributes["http.request.header.cookie"] == ("[REDACTED]",)
    assert front.attributes["http.request.header.user_agent"] != ("[REDACTED]",)


@pytest.mark.parametrize("ratio", [0.25])
def test_sampling_gate_samples_the_configured_share(ratio: float) -> None:
    provider, exporter = _provider(ParentBased(TraceIdRatioBased(ratio)))
    app = build_app("gated")
    instrument(app, registry=CollectorRegistry(), tracer_provider=provider, json_logs=False)
    n = 400
    # Suppressed: the test's own (instrumented) client must not send a sampled parent.
    with (
        serve_in_thread(app) as url,
        httpx.Client(base_url=url) as client,
        suppress_http_instrumentation(),
    ):
        for i in range(n):
            assert client.get(f"/items/{i}").status_code == 200
        assert client.get("/healthz").status_code == 200
    sampled = len(_servers(list(exporter.get_finished_spans()), url))
    # Binomial(400, 0.25): mean 100, sd 8.7; these bounds are over 4 sd wide.
    assert 60 <= sampled <= 140, sampled


def test_unsampled_requests_still_propagate_context_not_sampled(
    spans: InMemorySpanExporter,
) -> None:
    provider, exporter = _provider(ParentBased(ALWAYS_OFF))
    downstream = build_app("down")
    instrument(downstream, registry=CollectorRegistry(), json_logs=False)
    with serve_in_thread(downstream) as down_url:
        app = build_app("quiet", downstream=down_url)
        instrument(app, registry=CollectorRegistry(), tracer_provider=provider, json_logs=False)
        with serve_in_thread(app) as url, suppress_http_instrumentation():
            body = httpx.get(f"{url}/chain").json()
    assert exporter.get_finished_spans() == ()
    _version, trace_id, span_id, flags = body["traceparent"].split("-")
    assert int(trace_id, 16) != 0 and int(span_id, 16) != 0
    assert int(flags, 16) & 1 == 0, "the sampled flag must be off downstream"
    # Downstream is parent-based: it must not start a trace of its own.
    assert _servers(list(spans.get_finished_spans()), down_url) == []
    assert body["downstream"] == {"id": 7}


@pytest.mark.parametrize(
    ("root", "flags", "expect_span"),
    [(ALWAYS_OFF, "01", True), (ALWAYS_ON, "00", False)],
)
def test_incoming_parent_decides(root: object, flags: str, expect_span: bool) -> None:
    provider, exporter = _provider(ParentBased(root))  # type: ignore[arg-type]
    app = build_app("child")
    instrument(app, registry=CollectorRegistry(), tracer_provider=provider, json_logs=False)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with serve_in_thread(app) as url, suppress_http_instrumentation():
        httpx.get(f"{url}/items/1", headers={"traceparent": f"00-{trace_id}-{parent_id}-{flags}"})
    servers = _servers(list(exporter.get_finished_spans()), url)
    assert bool(servers) is expect_span
    for span in servers:
        assert format(span.context.trace_id, "032x") == trace_id
        assert span.parent is not None and format(span.parent.span_id, "016x") == parent_id
