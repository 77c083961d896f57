"""instrument() as a user meets it: twice, undone, failing inside, misconfigured."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from chaos.net import free_port
from instrumentation import instrument, uninstrument
from tests.instrumentation.apps import build_app
from tests.support import serve_in_thread, spawn_uvicorn

COUNT = "http_server_request_duration_seconds_count"
ITEM = {
    "http_request_method": "GET",
    "http_route": "/items/{item_id}",
    "http_response_status_code": "200",
}


def test_instrumenting_twice_is_harmless(spans: InMemorySpanExporter) -> None:
    registry = CollectorRegistry()
    app = build_app("twice")
    first = instrument(app, registry=registry, json_logs=False)
    assert instrument(app, registry=registry, json_logs=False) is first
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/items/1").status_code == 200
    servers = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == 1
    assert registry.get_sample_value(COUNT, ITEM) == 1


def test_uninstrument_removes_everything(spans: InMemorySpanExporter) -> None:
    registry = CollectorRegistry()
    app = build_app("undone")
    instrument(app, registry=registry, json_logs=False)
    uninstrument(app)
    uninstrument(app)  # a second time is a no-op
    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/items/1").status_code == 200
        assert httpx.get(f"{url}/metrics").status_code == 404
    # FastAPI's native telemetry may trace an uninstrumented app; the instrumentor must not.
    scopes = {
        s.instrumentation_scope.name for s in spans.get_finished_spans() if s.instrumentation_scope
    }
    assert "opentelemetry.instrumentation.fastapi" not in scopes
    assert registry.get_sample_value(COUNT, ITEM) is None


def test_a_failure_inside_metrics_never_fails_the_request(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = CollectorRegistry()
    app = build_app("fragile")
    instrument(app, registry=registry, json_logs=False)
    from instrumentation.metrics import http_metrics

    def broken(*labels: str) -> None:
        raise RuntimeError("registry on fire")

    monkeypatch.setattr(http_metrics(registry).server_duration, "labels", broken)
    with caplog.at_level(logging.WARNING, logger="instrumentation"), serve_in_thread(app) as url:
        for item in range(5):
            assert httpx.get(f"{url}/items/{item}").status_code == 200
    failures = [r for r in caplog.records if "registry on fire" in r.getMessage()]
    assert len(failures) == 1, "logged once, not once per request"


def test_instrument_rejects_what_is_not_an_app() -> None:
    with pytest.raises(TypeError, match="needs a FastAPI or Starlette app, got dict"):
        instrument({}, "nope")  # type: ignore[arg-type]


def _stop(process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    return time.monotonic() - started


def test_unreachable_collector_neither_raises_nor_stalls(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    log = (tmp_path / "stderr.log").open("wb")
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_BSP_MAX_QUEUE_SIZE": "64",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
        "TEST_SERVICE": "lonely",
    }
    with spawn_uvicorn("tests.instrumentation.served:app", env=env, stderr=log) as (process, url):
        slowest = 0.0
        with httpx.Client(base_url=url) as client:
            for item in range(300):
                started = time.monotonic()
                assert client.get(f"/items/{item}").status_code == 200
                slowest = max(slowest, time.monotonic() - started)
        # Generous: an export attempt on the request path would take its 5 s timeout.
        assert slowest < 2.0, f"a request took {slowest:.2f}s"
        assert _stop(process) < 15
    text = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in text
    export_errors = [line for line in text.splitlines() if "export" in line.lower()]
    assert export_errors, "the failure must be logged"
    assert len(export_errors) <= 3, export_errors  # once per distinct message, not per batch


def test_bad_environment_values_are_logged_once_and_ignored(tmp_path: Path) -> None:
    log = (tmp_path / "stderr.log").open("wb")
    env = {
        "OTEL_TRACES_SAMPLER": "sometimes",
        "OTEL_TRACES_SAMPLER_ARG": "often",
        "OTEL_RESOURCE_ATTRIBUTES": "garbage",
        "TEST_SERVICE": "misconfigured",
    }
    with spawn_uvicorn("tests.instrumentation.served:app", env=env, stderr=log) as (process, url):
        for item in range(20):
            assert httpx.get(f"{url}/items/{item}").status_code == 200
        _stop(process)
    lines = [
        json.loads(x)
        for x in (tmp_path / "stderr.log").read_text().splitlines()
        if x.startswith("{")
    ]
    warnings = [x["message"] for x in lines if x["level"] == "WARNING"]
    assert sum("OTEL_TRACES_SAMPLER='sometimes'" in w for w in warnings) == 1, warnings
    assert sum("'garbage'" in w for w in warnings) == 1, warnings


def test_logs_are_json_with_trace_ids_and_no_secrets(tmp_path: Path) -> None:
    log = (tmp_path / "stderr.log").open("wb")
    with spawn_uvicorn(
        "tests.instrumentation.served:app",
        env={"TEST_SERVICE": "talkative"},
        stderr=log,
        stdout=log,  # uvicorn writes its access log to stdout
    ) as (process, url):
        assert httpx.get(f"{url}/items/42?api_key=hunter2").status_code == 200
        _stop(process)
    entries = [
        json.loads(x) for x in (tmp_path / "stderr.log").read_text().splitlines() if x.strip()
    ]
    assert all(e["service"] == "talkative" for e in entries)
    (app_line,) = [e for e in entries if e["message"] == "item 42"]
    assert len(app_line["trace_id"]) == 32 and len(app_line["span_id"]) == 16
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert access and "api_key=REDACTED" in access[0]["message"]
    assert "hunter2" not in (tmp_path / "stderr.log").read_text()
