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
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from starlette.types import Scope

from instrumentation import server_spans
from instrumentation.exporter_process import build_exporter
from instrumentation.middleware import SPAN_CONTEXT_KEY
from instrumentation.redaction import SENSITIVE_HEADERS, redact_query, redact_url
from instrumentation.sampling import PresetTraceIds
from instrumentation.settings import ExporterChoice, ExporterKind, SamplerChoice, TelemetrySettings
from instrumentation.span_export import ExporterProcessSpanProcessor

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


def exporter_config(choice: ExporterChoice, settings: TelemetrySettings) -> dict[str, Any] | None:
    """What `exporter_process.build_exporter` needs for an OTLP choice (None for the others)."""
    if choice.kind is ExporterKind.OTLP_HTTP:
        endpoint = choice.endpoint or ""
        if not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"  # the base endpoint gets the signal path
        return {"kind": "otlp_http", "endpoint": endpoint, "timeout": 5}
    if choice.kind is ExporterKind.JSON_FILE and choice.directory is not None:
        choice.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", settings.resource["service.instance.id"])
        # One file per process: workers never interleave partial lines in one file.
        path = Path(choice.directory) / f"{settings.service_name}-{name}.jsonl"
        return {"kind": "otlp_json_file", "path": str(path)}
    return None


def span_processor(choice: ExporterChoice, settings: TelemetrySettings, resource: Resource) -> Any:
    """The span processor that exports finished spans for a choice, or None."""
    config = exporter_config(choice, settings)
    if config is not None and choice.separate_process:
        return ExporterProcessSpanProcessor(config, resource)
    if config is not None:
        return BatchSpanProcessor(build_exporter(config), max_queue_size=4096)
    if choice.kind is ExporterKind.CONSOLE:
        return BatchSpanProcessor(ConsoleSpanExporter())
    return None


def build_provider(settings: TelemetrySettings) -> TracerProvider:
    """A tracer provider made from settings: resource, sampler, exporter (not installed)."""
    provider = TracerProvider(
        resource=Resource.create(dict(settings.resource)),
        sampler=make_sampler(settings.sampler),
        id_generator=PresetTraceIds(),
    )
    processor = span_processor(settings.exporter, settings, provider.resource)
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def tracer_provider_for(settings: TelemetrySettings) -> trace.TracerProvider:
    """The process's tracer provider: the global SDK one if set, else one made from settings."""
    global _own_provider
    with _provider_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        if _own_provider is None:
            _own_provider = build_provider(settings)
            trace.set_tracer_provider(_own_provider)
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
    the metric labels, and it is the one `ServerSpans` reproduces (the legacy names go through
    the instrumentor's own middleware). Read once per process, before the first instrumentor
    runs.
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


def lean_stack(stack: Any, provider: trace.TracerProvider) -> Any:
    """`ServerSpans` in place of the instrumentor's middleware, in a stack it built.

    The instrumentor builds ServerErrorMiddleware(OpenTelemetryMiddleware(inner)), where
    `inner` has its own ServerErrorMiddleware, which answers 500 for the app. The outer one
    only catches failures of the tracing middleware itself, which `ServerSpans` does not
    raise; without it a request runs through one layer less. When `ServerSpans` does not
    reproduce the configuration exactly, the stack is returned unchanged: still correct,
    only slower. The sampler is asked first only for providers gameday built (`sampling`).
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware.errors import ServerErrorMiddleware

    if not (
        isinstance(stack, ServerErrorMiddleware)
        and type(stack.app) is OpenTelemetryMiddleware
        and server_spans.supported(stack.app)
    ):
        return stack
    sampler = None
    if (
        isinstance(provider, TracerProvider)
        and isinstance(provider.id_generator, PresetTraceIds)
        and provider.sampler is not ALWAYS_ON
    ):
        sampler = provider.sampler
    return server_spans.ServerSpans(stack.app, sampler)


_NATIVE_SIGNALS = ("tracing", "metrics", "logs")


def quiet_fastapi_telemetry(app: Any) -> dict[str, Any]:
    """Turn off FastAPI's own telemetry for an app the instrumentor traces; returns the old flags.

    FastAPI (>= 0.16x) would step aside for every request anyway once it finds the
    instrumentor's middleware, but it looks for it on every request, after checking three
    global providers: a few microseconds per request for nothing. With its flags off it
    neither looks nor adds exporters of its own to gameday's provider at startup
    (FASTAPI_OTEL_AUTO_CONFIGURE). `restore_fastapi_telemetry` puts the flags back.
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict):
        return {}
    previous = {key: config[key] for key in _NATIVE_SIGNALS if key in config}
    for key in previous:
        config[key] = False
    return previous


def restore_fastapi_telemetry(app: Any, previous: dict[str, Any]) -> None:
    """Undo `quiet_fastapi_telemetry`."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        config.update(previous)


def uninstrument_fastapi(app: Any) -> None:
    """Remove the FastAPI tracing middleware from `app`."""
    FastAPIInstrumentor.uninstrument_app(app)
