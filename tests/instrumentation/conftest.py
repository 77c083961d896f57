"""The in-memory exporter behind the session's tracer provider (installed in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import SPANS


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans every in-process app exported during this test."""
    SPANS.clear()
    yield SPANS
    SPANS.clear()
