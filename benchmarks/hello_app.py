"""The hello-world FastAPI app measured by instrumentation_overhead.py, one variant per run.

BENCH_VARIANT: bare | naive | gameday. gameday reads the OTEL_* environment as a user's
service does (sampler, OTLP endpoint) and GAMEDAY_TRACES_DIR for the JSON-lines files.
naive exports the way its own documentation shows: a BatchSpanProcessor with the
OTLPSpanExporter (which reads OTEL_EXPORTER_OTLP_ENDPOINT) or, when BENCH_TRACES_DIR is set,
the same OTLP JSON-lines file exporter gameday uses.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

app = FastAPI(title="hello")


@app.get("/hello/{name}")
async def hello(name: str) -> dict[str, str]:
    return {"hello": name}


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

    instrument(app, "hello", json_logs=False)
elif variant != "bare":
    raise SystemExit(f"BENCH_VARIANT={variant!r}: use bare, naive or gameday")
