"""`ServerSpans` makes the spans opentelemetry-instrumentation-fastapi makes, request by request.

Two copies of one app: one traced by the instrumentor exactly as gameday configures it
(`tracing.instrument_fastapi`), one by `instrument()`, which puts `ServerSpans` in its place.
Every request of the table goes to both with the same ASGI scope; their spans must agree in
name, kind, attributes, status, events, parent and scope.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from opentelemetry import trace
from opentelemetry.instrumentation import fastapi as fastapi_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.util.http import parse_excluded_urls
from prometheus_client import CollectorRegistry

from instrumentation import instrument, tracing
from instrumentation.sampling import PresetTraceIds
from instrumentation.server_spans import ServerSpans
from tests.instrumentation.apps import build_app
from tests.support import serve_in_thread

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class TimedRoute(APIRoute):
    """A custom route class, as services use for timing or logging: matched the slow way."""


def build(provider: TracerProvider) -> FastAPI:
    """The tests' app (items, failures, a mount) with more kinds of routes and responses."""
    app = build_app("twin")
    tracer = trace.get_tracer("tests.work", tracer_provider=provider)

    @app.get("/unavailable")
    async def unavailable() -> JSONResponse:
        return JSONResponse({"error": "down"}, status_code=503)

    @app.get("/files/{file_path:path}")
    async def files(file_path: str) -> dict[str, str]:
        return {"path": file_path}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"a", b"b", b"c"):
                yield part

        return StreamingResponse(chunks())

    @app.get("/broken-stream")
    async def broken_stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"a"
            raise RuntimeError("boom")  # after the response started: no 500 can be sent

        return StreamingResponse(chunks())

    @app.get("/work")
    async def work() -> dict[str, bool]:
        with tracer.start_as_current_span("work") as span:
            span.set_attribute("work.units", 3)
            span.add_event("halfway", {"done": 1})
        return {"ok": True}

    users = APIRouter(route_class=TimedRoute)

    @users.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"user": user_id}

    app.include_router(users, prefix="/api/v1")
    return app


REQUESTS: list[tuple[str, str, bytes, list[tuple[bytes, bytes]]]] = [
    ("GET", "/items/42", b"", []),
    ("GET", "/items/42", b"token=hunter2&page=2", []),
    ("GET", "/items/not-a-number", b"", []),
    ("POST", "/items/1", b"", []),
    ("GET", "/nowhere", b"", []),
    ("GET", "/boom", b"", []),
    ("GET", "/missing", b"", []),
    ("GET", "/unavailable", b"", []),
    ("GET", "/files/a/b/c.txt", b"", []),
    ("GET", "/stream", b"", []),
    ("GET", "/broken-stream", b"", []),
    ("GET", "/work", b"", []),
    ("GET", "/api/v1/users/7", b"", []),
    ("GET", "/sub/things/x", b"", []),
    ("PURGE", "/items/1", b"", []),
    ("get", "/items/1", b"", []),
    ("GET", "/items/1", b"", [(b"traceparent", TRACEPARENT.encode()), (b"baggage", b"k=v")]),
    ("GET", "/items/1", b"", [(b"user-agent", b"Googlebot/2.1")]),
    ("GET", "/items/1", b"", [(b"User-Agent", b"curl/8.5.0"), (b"x-api-key", b"s3cret")]),
]


def scope_for(
    method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query, "root_path": "", "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000), "headers": [(b"host", b"127.0.0.1:8000"), *headers],
    }  # fmt: skip


async def call(app: Any, scope: dict[str, Any]) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    try:
        await app(scope, receive, send)
    except RuntimeError as exc:
        assert str(exc) == "boom"
    return status


def view(span: ReadableSpan, ids: dict[int, str]) -> dict[str, Any]:
    """What must agree: ids replaced by their role (each twin has its own random ids)."""
    parent = span.parent
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "status": (span.status.status_code, span.status.description),
        "events": [
            (e.name, {k: v for k, v in (e.attributes or {}).items() if k != "exception.stacktrace"})
            for e in span.events
        ],
        "parent": None
        if parent is None
        else (ids.get(parent.span_id, format(parent.span_id, "016x")), parent.is_remote),
        "trace": "remote" if format(span.context.trace_id, "032x") in TRACEPARENT else "own",
        "sampled": span.context.trace_flags.sampled,
        "scope": (span.instrumentation_scope.name, span.instrumentation_scope.schema_url)
        if span.instrumentation_scope
        else None,
    }


def views(spans: tuple[ReadableSpan, ...]) -> list[dict[str, Any]]:
    ids = {s.context.span_id: f"span:{s.name}" for s in spans}
    return sorted((view(s, ids) for s in spans), key=repr)


class Recorder(SpanProcessor):
    """A plain user span processor: remembers what it saw start and end."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.ended: list[str] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span.name)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span.name)


def provider_with(sampler: Any, *processors: SpanProcessor) -> TracerProvider:
    """A provider like the ones gameday builds (preset trace ids), with these processors."""
    made = TracerProvider(sampler=sampler, id_generator=PresetTraceIds())
    for processor in processors:
        made.add_span_processor(processor)
    return made


def twins(sampler: Any) -> tuple[Any, InMemorySpanExporter, Any, InMemorySpanExporter]:
    upstream_spans, our_spans = InMemorySpanExporter(), InMemorySpanExporter()
    upstream_provider = provider_with(sampler, SimpleSpanProcessor(upstream_spans))
    upstream = build(upstream_provider)
    tracing.instrument_fastapi(upstream, upstream_provider)
    our_provider = provider_with(sampler, SimpleSpanProcessor(our_spans))
    ours = build(our_provider)
    instrument(
        ours, "twin", tracer_provider=our_provider, registry=CollectorRegistry(), json_logs=False
    )
    return upstream, upstream_spans, ours, our_spans


def _server_spans_in(app: Any) -> bool:
    layer = app.middleware_stack
    while layer is not None:
        if isinstance(layer, ServerSpans):
            return True
        layer = getattr(layer, "app", None)
    return False


@pytest.fixture(params=["plain", "capture-headers"])
def config(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "capture-headers":
        monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
        monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", ".*")
    yield request.param


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "sampler", [ParentBased(ALWAYS_ON), ALWAYS_ON], ids=["parent-based", "always-on"]
)
async def test_spans_match_the_instrumentors_request_by_request(config: str, sampler: Any) -> None:
    upstream, upstream_spans, ours, our_spans = twins(sampler)
    for method, path, query, headers in REQUESTS:
        upstream_spans.clear()
        our_spans.clear()
        scope = scope_for(method, path, query, headers)
        upstream_status = await call(upstream, dict(scope))
        our_status = await call(ours, dict(scope))
        assert our_status == upstream_status, (method, path)
        theirs = views(upstream_spans.get_finished_spans())
        mine = views(our_spans.get_finished_spans())
        assert theirs, (method, path)
        assert mine == theirs, (method, path, query, headers)
    assert _server_spans_in(ours), "the comparison must run through ServerSpans"
    assert not _server_spans_in(upstream)


@pytest.mark.asyncio
async def test_a_user_span_processor_and_a_manual_child_span_work_unchanged() -> None:
    recorder, exporter = Recorder(), InMemorySpanExporter()
    provider = provider_with(
        ParentBased(TraceIdRatioBased(1.0)), SimpleSpanProcessor(exporter), recorder
    )
    app = build(provider)
    instrument(app, "user", tracer_provider=provider, registry=CollectorRegistry(), json_logs=False)
    assert await call(app, scope_for("GET", "/work", b"", [])) == 200
    assert _server_spans_in(app)
    finished = {s.name: s for s in exporter.get_finished_spans()}
    server, child = finished["GET /work"], finished["work"]
    assert child.parent is not None and child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id
    assert child.attributes == {"work.units": 3}
    assert [e.name for e in child.events] == ["halfway"]
    assert recorder.started == ["GET /work", "work"]
    assert recorder.ended == ["work", "GET /work"]


@pytest.mark.asyncio
async def test_routes_added_while_serving_are_found() -> None:
    upstream, upstream_spans, ours, our_spans = twins(ParentBased(ALWAYS_ON))
    scope = scope_for("GET", "/late/3", b"", [])
    for round_no in range(2):
        if round_no == 1:
            for app in (upstream, ours):
                late = APIRouter()
                late.add_api_route("/late/{n}", lambda n: {"n": n}, methods=["GET"])
                app.include_router(late)
        upstream_spans.clear()
        our_spans.clear()
        await call(upstream, dict(scope))
        await call(ours, dict(scope))
        assert views(our_spans.get_finished_spans()) == views(upstream_spans.get_finished_spans())
    assert [s.name for s in our_spans.get_finished_spans()] == ["GET /late/{n}"]


@pytest.mark.asyncio
async def test_unsampled_requests_are_answered_as_the_instrumentors_are() -> None:
    upstream, upstream_spans, ours, our_spans = twins(ParentBased(ALWAYS_OFF))
    for method, path, query, headers in REQUESTS:
        scope = scope_for(method, path, query, headers)
        assert await call(ours, dict(scope)) == await call(upstream, dict(scope)), path
    # Only the request whose parent was sampled made spans, in both.
    assert views(our_spans.get_finished_spans()) == views(upstream_spans.get_finished_spans())
    assert {s.name for s in our_spans.get_finished_spans()} == {"GET /items/{item_id}"}


UNDECODABLE_SETTINGS = {
    "defaults": {},
    "excluded-urls": {},  # the instrumentor reads OTEL_PYTHON_FASTAPI_EXCLUDED_URLS on import
    "capture-headers": {
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": ".*",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": ".*",
    },
}


@pytest.mark.parametrize("settings", sorted(UNDECODABLE_SETTINGS))
@pytest.mark.parametrize("sampler", [ALWAYS_ON, ALWAYS_OFF], ids=["sampled", "unsampled"])
def test_headers_the_instrumentor_cannot_decode_do_not_fail_the_request(
    sampler: Any, settings: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not UTF-8 and a backslash at the end (Host, User-Agent, traceparent): the instrumentor's
    # decoding raises on these, which answers 500 (as upstream does); gameday serves the request
    # — with the URL exclusion check, with header capture, sampled or not.
    for name, value in UNDECODABLE_SETTINGS[settings].items():
        monkeypatch.setenv(name, value)
    if settings == "excluded-urls":
        excluded = parse_excluded_urls("healthz,/other")
        monkeypatch.setattr(fastapi_instrumentation, "_excluded_urls_from_env", excluded)
    spans = InMemorySpanExporter()
    provider = provider_with(ParentBased(sampler), SimpleSpanProcessor(spans))
    app = build(provider)
    instrument(app, "svc", tracer_provider=provider, registry=CollectorRegistry(), json_logs=False)
    with serve_in_thread(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"GET /items/3 HTTP/1.1\r\nHost: \x80\\\r\nUser-Agent: \x80\\\r\n"
                b"traceparent: \x80\\\r\nConnection: close\r\n\r\n"
            )
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    finished = spans.get_finished_spans()
    if sampler is ALWAYS_ON:
        assert [(s.attributes or {}).get("user_agent.original") for s in finished] == ["\x80\\"]
    else:
        assert finished == ()
