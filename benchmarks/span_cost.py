"""Where the time of an instrumented request goes: CPU per request of each layer, in-process.

Runs the same hello-world FastAPI request through ASGI directly (no sockets), each variant in
turn, several rounds, and prints the median CPU microseconds per request and the ratio to bare.
This is the evidence behind docs/performance.md: what the OpenTelemetry SDK costs for one
sampled span (the floor any tracer built on it pays), what the FastAPI instrumentor costs as
upstream ships it and as gameday runs it, and what gameday's metrics and presampling cost.
Spans are not exported here; the second table is the CPU each way of exporting a finished
span costs the worker's interpreter: encoding it to OTLP (as a BatchSpanProcessor's thread
does, in the same process) or handing it to gameday's exporter process.

    .venv/bin/python benchmarks/span_cost.py [--rounds 9] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from instrumentation import instrument
from instrumentation.sampling import PresetTraceIds

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
QUIET = {"tracing": False, "metrics": False, "logs": False}  # FastAPI's own telemetry off


def hello_app() -> FastAPI:
    app = FastAPI(telemetry=QUIET)  # type: ignore[call-arg]

    @app.get("/hello/{name}")
    async def hello(name: str) -> dict[str, str]:
        return {"hello": name}

    return app


def gameday(sampler: Sampler) -> FastAPI:
    """instrument(app) with its own provider (as instrument() builds one: gate included)."""
    app = hello_app()
    provider = TracerProvider(sampler=sampler, id_generator=PresetTraceIds())
    instrument(app, "bench", registry=CollectorRegistry(), tracer_provider=provider,
               json_logs=False)  # fmt: skip
    return app


def sdk_span_around(app: Asgi) -> Asgi:
    """The least any tracer on the SDK pays: extract, one server span, attributes, end."""
    tracer = TracerProvider(sampler=ALWAYS_ON).get_tracer("floor")

    async def traced(scope: dict[str, Any], receive: Any, send: Any) -> None:
        parent = propagate.extract({})
        span = tracer.start_span(
            "GET /hello/{name}", context=parent, kind=SpanKind.SERVER,
            attributes={"http.request.method": "GET", "url.path": scope["path"],
                        "http.route": "/hello/{name}", "url.scheme": "http"},
        )  # fmt: skip
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await app(scope, receive, send)
        finally:
            span.set_attribute("http.response.status_code", 200)
            context.detach(token)
            span.end()

    return traced


SCOPE = {
    "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
    "method": "GET", "scheme": "http", "path": "/hello/world", "raw_path": b"/hello/world",
    "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000), "headers": [(b"host", b"127.0.0.1:8000")],
}  # fmt: skip


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


async def cpu_per_request(app: Asgi, n: int) -> float:
    started = time.thread_time()
    for _ in range(n):
        await app(dict(SCOPE), _receive, _send)
    return (time.thread_time() - started) / n * 1e6


def upstream_instrumentor() -> FastAPI:
    """The FastAPI instrumentor as gameday configures it, without gameday's replacement."""
    from instrumentation.tracing import instrument_fastapi

    app = hello_app()
    instrument_fastapi(app, TracerProvider(sampler=ALWAYS_ON))
    return app


def variants() -> dict[str, Asgi]:
    """Built once; FastAPI's own telemetry stays off in all (no global provider is set)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        raise SystemExit("a global tracer provider is set; run this benchmark on its own")
    return {
        "bare": hello_app(),
        "bare + SDK span (floor)": sdk_span_around(hello_app()),
        "upstream instrumentor, 100 %": upstream_instrumentor(),
        "gameday, tracing off": _metrics_only(),
        "gameday, sampling 0 %": gameday(ParentBased(ALWAYS_OFF)),
        "gameday, sampling 10 %": gameday(ParentBased(TraceIdRatioBased(0.1))),
        "gameday, sampling 100 %": gameday(ParentBased(ALWAYS_ON)),
    }


def _metrics_only() -> FastAPI:
    import os

    app = hello_app()
    os.environ["OTEL_SDK_DISABLED"] = "true"
    try:
        instrument(app, "bench", registry=CollectorRegistry(), json_logs=False)
    finally:
        del os.environ["OTEL_SDK_DISABLED"]
    return app


def finished_spans(n: int) -> list[Any]:
    """`n` finished server spans of the 100 % variant, as a span processor receives them."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON, id_generator=PresetTraceIds())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    app = hello_app()
    instrument(app, "bench", registry=CollectorRegistry(), tracer_provider=provider,
               json_logs=False)  # fmt: skip

    async def run() -> None:
        for _ in range(n):
            await app(dict(SCOPE), _receive, _send)

    asyncio.run(run())
    return list(memory.get_finished_spans())


def export_costs(rounds: int) -> dict[str, float]:
    """CPU µs per span to export a batch of 512 finished spans, each way (medians)."""
    import json
    import marshal

    from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as as_json
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as as_proto

    from instrumentation.span_export import encode

    spans = finished_spans(512)
    resource, scopes = spans[0].resource, {}
    ways = {
        "OTLP protobuf (OTLPSpanExporter)": lambda: as_proto(spans).SerializePartialToString(),
        "OTLP JSON (FileSpanExporter)": lambda: json.dumps(
            as_json(spans).to_dict(), separators=(",", ":")
        ),
        "hand-off to the exporter process": lambda: marshal.dumps(
            [encode(span, resource, scopes) for span in spans]
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            started = time.thread_time()
            way()
            results[name].append((time.thread_time() - started) / len(spans) * 1e6)
    return {name: statistics.median(values) for name, values in results.items()}


async def main(rounds: int, requests: int) -> None:
    apps = variants()
    for app in apps.values():
        await cpu_per_request(app, 300)  # warm up: first requests build the stacks
    results: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():  # interleaved: drift hits every variant alike
            results[name].append(await cpu_per_request(app, requests))
    bare = statistics.median(results["bare"])
    print(f"{rounds} rounds x {requests} requests, CPU time per request (thread_time), medians")
    print(f"{'variant':28s} {'µs/request':>11s} {'added µs':>9s} {'bare/variant':>13s}")
    for name, values in results.items():
        value = statistics.median(values)
        print(f"{name:28s} {value:11.1f} {value - bare:9.1f} {bare / value:13.2f}")


def print_export_costs(rounds: int) -> None:
    print("\nexporting a finished span: CPU on the worker's interpreter, per span (batches of 512)")
    for name, value in export_costs(rounds).items():
        print(f"{name:36s} {value:7.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=2000)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.requests))
    print_export_costs(options.rounds)
