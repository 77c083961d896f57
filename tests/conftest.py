"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from chaos.net import free_port
from instrumentation.sampling import PresetTraceIds

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Every app instrumented in this process exports here (tests/instrumentation reads it).
SPANS = InMemorySpanExporter()


def pytest_configure(config: pytest.Config) -> None:
    """Install the test tracer provider before any module instruments an app at import."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), id_generator=PresetTraceIds())
        provider.add_span_processor(SimpleSpanProcessor(SPANS))
        trace.set_tracer_provider(provider)


@pytest.fixture(autouse=True)
def _forget_spans() -> None:
    """Spans of earlier tests are dropped, so memory stays flat over the session."""
    SPANS.clear()


def require_binary(name: str, install_hint: str) -> str:
    """Path of `name`; fails under CI=true (the project installs it there), skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found on PATH; install it with: {install_hint}"
        if IN_CI:
            pytest.fail(message + " (CI must install it: see scripts/ensure-system-deps.sh)")
        pytest.skip(message)
    return path


@pytest.fixture
def port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()
