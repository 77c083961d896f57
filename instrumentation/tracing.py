"""Tracing: the tracer provider, its sampler and exporter, and the FastAPI/httpx instrumentors.

The provider is made once per process and shared by every instrumented app; an SDK provider
the user already installed globally, or one passed in, is used as it is.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _StabilityMode,
)
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from starlette.types import Scope

from instrumentation.middleware import SPAN_CONTEXT_KEY
from instrumentation.redaction import SENSITIVE_HEADERS, redact_query, redact_url
from instrumentation.sampling import PresetTraceIds, gate_stack
from instrumentation.settings import ExporterChoice, ExporterKind, SamplerChoice, TelemetrySettings

logger = logging.getLogger(__name__)

_provider_lock = threading.Lock()
_own_provider: TracerProvider | None = None
_NO_METER = NoOpMeterProvider()  # RED metrics come from prometheus-client, not the OTel SDK


def make_sampler(choice: SamplerChoice) -> Sampler:
    """The SDK sampler for a resolved OTEL_TRACES_SAMPLER choice."""
    base: Sampler
    if choice.name.endswith("always_off"):
        base = ALWAYS_OFF
    elif choice.name.endswith("traceidratio"):
        base = TraceIdRatioBased(choice.ratio)
    else:
        base = ALWAYS_ON
    return ParentBased(base) if choice.name.startswith("parentbased") else base


def make_exporter(choice: ExporterChoice, settings: TelemetrySettings) -> SpanExporter | None:
    """The span exporter for a resolved choice, or None when spans are not exported."""
    if choice.kind is ExporterKind.OTLP_HTTP:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = choice.endpoint or ""
        if not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"  # the base endpoint gets the signal path
        return OTLPSpanExporter(endpoint=endpoint, timeout=5)
    if choice.kind is ExporterKind.JSON_FILE and choice.directory is not None:
        from opentelemetry.exporter.otlp.json.file import FileSpanExporter

        choice.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", settings.resource["service.instance.id"])
        # One file per process: workers never interleave partial lines in one file.
        return FileSpanExporter(Path(choice.directory) / f"{settings.service_name}-{name}.jsonl")
    if choice.kind is ExporterKind.CONSOLE:
        return ConsoleSpanExporter()
    return None


def tracer_provider_for(settings: TelemetrySettings) -> trace.TracerProvider:
    """The process's tracer provider: the global SDK one if set, else one made from settings."""
    global _own_provider
    with _provider_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        if _own_provider is None:
            provider = TracerProvider(
                resource=Resource.create(dict(settings.resource)),
                sampler=make_sampler(settings.sampler),
                id_generator=PresetTraceIds(),
            )
            exporter = make_exporter(settings.exporter, settings)
            if exporter is not None:
                provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=4096))
            trace.set_tracer_provider(provider)
            _own_provider = provider
        return _own_provider


def _url_attributes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(server attributes holding the query, client attributes holding the full URL)."""
    _OpenTelemetrySemanticConventionStability._initialize()  # type: ignore[no-untyped-call]
    mode = _OpenTelemetrySemanticConventionStability._get_opentelemetry_stability_opt_in_mode(
        _OpenTelemetryStabilitySignalType.HTTP
    )
    old, new = (
        mode in (_StabilityMode.DEFAULT, _StabilityMode.HTTP_DUP),
        mode is not _StabilityMode.DEFAULT,
    )
    server = (("http.target", "http.url") if old else ()) + (("url.query",) if new else ())
    client = (("http.url",) if old else ()) + (("url.full",) if new else ())
    return server, client


def _server_request_hook(server_attrs: tuple[str, ...]) -> Any:
    def hook(span: trace.Span, scope: Scope) -> None:
        scope[SPAN_CONTEXT_KEY] = span.get_span_context()
        if not scope.get("query_string") or not span.is_recording():
            return
        attributes = getattr(span, "attributes", None) or {}
        for key in server_attrs:
            value = attributes.get(key)
            if isinstance(value, str):
                span.set_attribute(key, _redact_attribute(key, value))

    return hook


def _redact_attribute(key: str, value: str) -> str:
    if key == "url.query":
        return redact_query(value)
    base, sep, query = value.partition("?")
    return base + sep + redact_query(query) if sep else value


def _client_request_hook(client_attrs: tuple[str, ...]) -> Any:
    def redact(span: trace.Span, request: Any) -> None:
        if span.is_recording() and b"?" in bytes(request.url.raw_path):
            url = redact_url(str(request.url))
            for key in client_attrs:
                span.set_attribute(key, url)

    async def async_redact(span: trace.Span, request: Any) -> None:
        redact(span, request)

    return redact, async_redact


def sanitized_header_fields() -> list[str]:
    """Header names whose captured values are replaced: ours plus the user's env list."""
    env = os.environ.get("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "")
    return sorted(SENSITIVE_HEADERS | {h.strip() for h in env.split(",") if h.strip()})


def prefer_stable_http_semconv() -> None:
    """Use the stable HTTP semantic conventions unless the user chose otherwise.

    The stable attribute set (`http.request.method`, `url.path`, `http.route`, ...) matches
    the metric labels, and the instrumentor computes it about a sixth faster than the legacy
    one (docs/performance.md). Read once per process, before the first instrumentor runs.
    """
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")


def instrument_fastapi(app: Any, provider: trace.TracerProvider) -> None:
    """Trace `app` with opentelemetry-instrumentation-fastapi, configured to stay cheap."""
    prefer_stable_http_semconv()
    server_attrs, _ = _url_attributes()
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=_NO_METER,
        server_request_hook=_server_request_hook(server_attrs),
        http_capture_headers_sanitize_fields=sanitized_header_fields(),
        exclude_spans=["receive", "send"],
    )


def instrument_httpx(provider: trace.TracerProvider) -> None:
    """Propagate W3C trace context on every httpx client (process-wide, once)."""
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    prefer_stable_http_semconv()
    # The httpx instrumentor reads its sanitize list only from the environment.
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"] = ",".join(
        sanitized_header_fields()
    )
    _, client_attrs = _url_attributes()
    hook, async_hook = _client_request_hook(client_attrs)
    instrumentor.instrument(
        tracer_provider=provider,
        meter_provider=_NO_METER,
        request_hook=hook,
        async_request_hook=async_hook,
    )


def gated(stack: Any, provider: trace.TracerProvider) -> Any:
    """Put the sampling gate into a built stack when the provider's sampler can say no."""
    if (
        isinstance(provider, TracerProvider)
        and isinstance(provider.id_generator, PresetTraceIds)
        and provider.sampler is not ALWAYS_ON
    ):
        return gate_stack(stack, provider.sampler)
    return stack


def uninstrument_fastapi(app: Any) -> None:
    """Remove the FastAPI tracing middleware from `app`."""
    FastAPIInstrumentor.uninstrument_app(app)
