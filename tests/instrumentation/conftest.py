"""One SDK tracer provider for the whole test process, exporting to memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from instrumentation.sampling import PresetTraceIds

_exporter = InMemorySpanExporter()


def _install_global_provider() -> None:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), id_generator=PresetTraceIds())
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    trace.set_tracer_provider(provider)


@pytest.fixture(autouse=True, scope="session")
def global_tracer_provider() -> None:
    """Installed before any test instruments an app, so every app reports to memory."""
    _install_global_provider()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter behind the global provider, emptied for this test."""
    _install_global_provider()
    _exporter.clear()
    yield _exporter
    _exporter.clear()
