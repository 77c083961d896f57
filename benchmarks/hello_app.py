"""The hello-world FastAPI app measured by instrumentation_overhead.py, one variant per run.

BENCH_VARIANT: bare | naive | gameday | passthrough. gameday reads the OTEL_* environment as a
user's service does (sampler, OTLP endpoint) and GAMEDAY_TRACES_DIR for the JSON-lines files.
naive exports the way its own documentation shows: a BatchSpanProcessor with the
OTLPSpanExporter (which reads OTEL_EXPORTER_OTLP_ENDPOINT) or, when BENCH_TRACES_DIR is set,
the same OTLP JSON-lines file exporter gameday uses.

Two variants take the metrics layer apart, to show where its cost is: `passthrough` wraps the
app in a pure ASGI middleware that only reads the status off `send` (the shape of gameday's
`RedMiddleware`, doing nothing), and gameday with BENCH_UNRECORDED=1 runs `RedMiddleware` with
its recording replaced by nothing: the in-flight gauge's `enter`/`leave` and `_observe` (route
template, label key, the duration histogram's `observe`).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

app = FastAPI(title="hello")


@app.get("/hello/{name}")
async def hello(name: str) -> dict[str, str]:
    return {"hello": name}


class _Passthrough:
    """A pure ASGI middleware that reads the status off `send` and records nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_with_status)


def _unrecorded() -> None:
    """RedMiddleware with its prometheus-client calls replaced by nothing (benchmark only):
    the in-flight gauge's enter/leave, and `_observe` (route template, label key, histogram)."""
    from instrumentation import middleware

    class Nothing:
        def enter(self) -> None: ...

        def leave(self) -> None: ...

    nothing = Nothing()

    class NoGauge(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            return nothing

    built = middleware.RedMiddleware.__init__

    def init(self: middleware.RedMiddleware, *args: Any, **kwargs: Any) -> None:
        built(self, *args, **kwargs)
        self._active = NoGauge()

    middleware.RedMiddleware.__init__ = init  # type: ignore[method-assign]
    middleware.RedMiddleware._observe = lambda *args: None  # type: ignore[method-assign]


variant = os.environ.get("BENCH_VARIANT", "bare")
if variant == "naive":
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    from prometheus_fastapi_instrumentator import Instrumentator

    provider = TracerProvider()
    exporter: SpanExporter | None = None
    if os.environ.get("BENCH_TRACES_DIR"):
        from opentelemetry.exporter.otlp.json.file import FileSpanExporter

        exporter = FileSpanExporter(f"{os.environ['BENCH_TRACES_DIR']}/naive.jsonl")
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app)
    Instrumentator().instrument(app).expose(app)
elif variant == "gameday":
    from instrumentation import instrument

    if os.environ.get("BENCH_UNRECORDED"):
        _unrecorded()
    instrument(app, "hello", json_logs=False)
elif variant == "passthrough":
    _inner_build = app.build_middleware_stack
    app.build_middleware_stack = lambda: _Passthrough(_inner_build())  # type: ignore[method-assign]
elif variant != "bare":
    raise SystemExit(f"BENCH_VARIANT={variant!r}: use bare, naive, gameday or passthrough")
