import io
import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentation.logs import JsonFormatter, LogOnce


def _capture(logger_name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("checkout"))
    logger = logging.getLogger(logger_name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_line_carries_the_trace_context(spans: InMemorySpanExporter) -> None:
    logger, stream = _capture("tests.logs.trace")
    with trace.get_tracer("t").start_as_current_span("work") as span:
        logger.info("charged %s", "order-1", extra={"order_id": "order-1"})
    entry = json.loads(stream.getvalue())
    context = span.get_span_context()
    assert entry["message"] == "charged order-1"
    assert entry["level"] == "INFO"
    assert entry["service"] == "checkout"
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")
    assert entry["trace_flags"] == format(context.trace_flags, "02x")
    assert int(entry["trace_flags"], 16) & 1  # sampled
    assert entry["order_id"] == "order-1"
    assert entry["timestamp"].endswith("+00:00")


def test_outside_a_span_there_is_no_trace_id() -> None:
    logger, stream = _capture("tests.logs.plain")
    logger.warning("plain")
    entry = json.loads(stream.getvalue())
    assert "trace_id" not in entry and entry["level"] == "WARNING"


def test_exceptions_are_one_json_line() -> None:
    logger, stream = _capture("tests.logs.exc")
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "ValueError: bad" in json.loads(lines[0])["exception"]


def test_access_log_query_secrets_are_redacted() -> None:
    logger, stream = _capture("uvicorn.access")
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/login?token=hunter2", "1.1", 200)
    assert "hunter2" not in stream.getvalue()
    assert "token=REDACTED" in stream.getvalue()


def test_log_once_passes_each_template_once() -> None:
    logger, stream = _capture("tests.logs.once")
    logger.addFilter(LogOnce())
    for n in range(5):
        logger.warning("Queue full, dropping %s.", n)
    logger.warning("another message")
    assert len(stream.getvalue().splitlines()) == 2


def test_json_logs_quiet_httpx_request_lines() -> None:
    from instrumentation.logs import configure_json_logs

    root = logging.getLogger()
    saved = (root.level, list(root.handlers), [h.formatter for h in root.handlers])
    httpx_logger = logging.getLogger("httpx")
    httpx_logger.setLevel(logging.NOTSET)
    try:
        configure_json_logs("quiet")
        assert not httpx_logger.isEnabledFor(logging.INFO)
        assert httpx_logger.isEnabledFor(logging.WARNING)
    finally:  # the test process's own logging is left as it was
        root.setLevel(saved[0])
        root.handlers = saved[1]
        for handler, formatter in zip(saved[1], saved[2], strict=True):
            handler.setFormatter(formatter)
        httpx_logger.setLevel(logging.NOTSET)
