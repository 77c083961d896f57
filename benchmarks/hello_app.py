"""The hello-world FastAPI app measured by instrumentation_overhead.py, one variant per run.

BENCH_VARIANT: bare | naive | gameday (sampling from OTEL_TRACES_SAMPLER(_ARG)).
Every traced variant exports spans to the same JSON-lines file exporter (BENCH_TRACES_DIR),
so they pay the same export cost.
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
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from prometheus_fastapi_instrumentator import Instrumentator

    provider = TracerProvider()
    directory = os.environ["BENCH_TRACES_DIR"]
    provider.add_span_processor(BatchSpanProcessor(FileSpanExporter(f"{directory}/naive.jsonl")))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app)
    Instrumentator().instrument(app).expose(app)
elif variant == "gameday":
    from instrumentation import instrument

    instrument(app, "hello", traces_dir=os.environ.get("BENCH_TRACES_DIR") or None, json_logs=False)
elif variant != "bare":
    raise SystemExit(f"BENCH_VARIANT={variant!r}: use bare, naive or gameday")
