"""`instrument(app)`: tracing, RED metrics, JSON logs and health endpoints in one call.

Safe by construction: calling it twice returns the first result; a failure while setting up
tracing or logging is logged once and leaves the app serving (metrics and health still work);
nothing it adds can fail a request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from instrumentation import edges, tracing
from instrumentation.client import ClientRecorder
from instrumentation.edges import EdgeNames
from instrumentation.health import Readiness, ReadinessCheck
from instrumentation.logs import configure_json_logs, quiet_repeats
from instrumentation.metrics import http_metrics
from instrumentation.middleware import RedMiddleware
from instrumentation.server_spans import ServerSpans
from instrumentation.settings import TelemetrySettings, read_settings

logger = logging.getLogger("instrumentation")

_STATE_ATTR = "_gameday_instrumentation"


@dataclass
class Instrumentation:
    """What `instrument()` did to one app; `uninstrument()` undoes it."""

    app: Starlette
    settings: TelemetrySettings
    readiness: Readiness
    registry: CollectorRegistry | None
    tracer_provider: trace.TracerProvider | None
    _previous_build: Any = field(default=None, repr=False)
    _traced: bool = field(default=False, repr=False)
    _native_telemetry: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def service_name(self) -> str:
        """The service name in the resource, metrics and logs."""
        return self.settings.service_name

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        """Make `/readyz` depend on `check` (sync or async, True when ready)."""
        self.readiness.add(name, check)


_reported: set[tuple[str, str]] = set()


def _warn_once(what: str, exc: BaseException) -> None:
    # Once per kind of failure: a path that fails on every request must not flood the logs.
    key = (what, type(exc).__name__)
    if key in _reported:
        return
    _reported.add(key)
    logger.warning("gameday instrumentation: %s failed, continuing without it: %r", what, exc)


def instrument(
    app: Starlette,
    service_name: str | None = None,
    *,
    service_version: str | None = None,
    environment: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
    sampling_ratio: float | None = None,
    traces_dir: str | os.PathLike[str] | None = None,
    json_logs: bool = True,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    readiness_timeout: float = 2.0,
) -> Instrumentation:
    """Instrument a FastAPI (or Starlette) app; call before it starts serving.

    `service_name` defaults to OTEL_SERVICE_NAME, then the app's title. Tracing follows the
    OTEL_* environment (sampler, OTLP endpoint) with GAMEDAY_TRACES_DIR as the embedded file
    exporter; `tracer_provider` and `registry` replace the global ones when given.
    """
    if not isinstance(app, Starlette):
        raise TypeError(f"instrument() needs a FastAPI or Starlette app, got {type(app).__name__}")
    existing: Instrumentation | None = getattr(app, _STATE_ATTR, None)
    if existing is not None:
        return existing
    quiet_repeats()
    settings = read_settings(
        os.environ,
        service_name=service_name,
        service_version=service_version,
        environment=environment,
        sampling_ratio=sampling_ratio,
        traces_dir=traces_dir,
        default_service_name=getattr(app, "title", "") or "unknown_service",
    )
    if json_logs:
        try:
            configure_json_logs(settings.service_name)
        except Exception as exc:
            _warn_once("configuring JSON logs", exc)
    for warning in settings.warnings:
        logger.warning("gameday instrumentation: %s", warning)

    state = Instrumentation(
        app=app,
        settings=settings,
        readiness=Readiness(timeout=readiness_timeout),
        registry=registry,
        tracer_provider=None,
        _previous_build=vars(app).get("build_middleware_stack"),
    )
    for name, check in (readiness_checks or {}).items():
        state.add_readiness_check(name, check)

    metrics = http_metrics(registry)
    try:
        names = EdgeNames.from_environ(os.environ)
        for warning in names.warnings:
            logger.warning("gameday instrumentation: %s", warning)
        edges.measure_every_client(names, ClientRecorder(metrics), _warn_once)
    except Exception as exc:
        _warn_once("measuring httpx clients", exc)

    if settings.tracing_enabled:
        try:
            provider = tracer_provider or tracing.tracer_provider_for(settings)
            tracing.instrument_fastapi(app, provider)
            state._native_telemetry = tracing.quiet_fastapi_telemetry(app)
            tracing.instrument_httpx(provider)
            state.tracer_provider = provider
            state._traced = True
        except Exception as exc:
            _warn_once("setting up tracing", exc)

    traced_build = app.build_middleware_stack

    def build_middleware_stack() -> Any:
        stack = traced_build()
        if state.tracer_provider is not None:
            stack = tracing.lean_stack(stack, state.tracer_provider)
        return RedMiddleware(
            stack,
            metrics=metrics,
            readiness=state.readiness,
            registry=registry,
            on_error=_warn_once,
            dispatch=stack.dispatch if isinstance(stack, ServerSpans) else None,
        )

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    app.middleware_stack = None  # rebuilt on the next request
    setattr(app, _STATE_ATTR, state)
    return state


def uninstrument(app: Starlette) -> None:
    """Undo `instrument(app)`; harmless when the app was never instrumented."""
    state: Instrumentation | None = getattr(app, _STATE_ATTR, None)
    if state is None:
        return
    if state._traced:
        tracing.uninstrument_fastapi(app)
        tracing.restore_fastapi_telemetry(app, state._native_telemetry)
    if state._previous_build is None:
        vars(app).pop("build_middleware_stack", None)
    else:
        app.build_middleware_stack = state._previous_build  # type: ignore[method-assign]
    app.middleware_stack = None
    delattr(app, _STATE_ATTR)
