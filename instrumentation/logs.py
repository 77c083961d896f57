"""Trace-correlated JSON log lines, and a filter that lets a repeated warning through once.

Field names follow OpenTelemetry's "trace context in non-OTLP log formats":
`trace_id`, `span_id`, `trace_flags`, beside `timestamp`, `level`, `service`, `message`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from instrumentation.redaction import redact_target

# Loggers uvicorn configures with their own handlers; their formatters are replaced too.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access")
CHATTY_CLIENT_LOGGERS = ("httpx", "httpcore")
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line, with the current trace context."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        if (
            record.name == "uvicorn.access"
            and isinstance(record.args, tuple)
            and len(record.args) >= 3
        ):
            # uvicorn logs the raw target, query string included: secrets must not reach logs.
            args = list(record.args)
            args[2] = redact_target(str(args[2]))
            record.args = tuple(args)
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="microseconds"
            ),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
            entry["trace_flags"] = format(context.trace_flags, "02x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        return json.dumps(entry, ensure_ascii=False)


class LogOnce(logging.Filter):
    """Passes the first record of each (logger, message template); drops its repeats.

    Exporters and the batch processor warn on every failed export or dropped span; under load
    that would flood the logs from the request path. One line says it; metrics count the rest.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
        return True


_log_once = LogOnce()

# Loggers of the OpenTelemetry SDK and exporters that may repeat themselves under failure.
NOISY_LOGGERS = (
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.exporter.otlp.json.file._internal",
    "opentelemetry.instrumentation.instrumentor",
)


def quiet_repeats() -> None:
    """Attach the log-once filter to the loggers that repeat themselves (idempotent)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _log_once not in logger.filters:
            logger.addFilter(_log_once)


def configure_json_logs(service: str, level: int | None = None) -> None:
    """Make the root and server loggers write JSON lines (idempotent).

    Existing handlers keep their destination and get the JSON formatter; a root logger without
    handlers gets one on stderr.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    if level is not None:
        root.setLevel(level)
    elif root.level == logging.WARNING:
        root.setLevel(logging.INFO)
    formatter = JsonFormatter(service)
    for logger in (root, *(logging.getLogger(name) for name in SERVER_LOGGERS)):
        for handler in logger.handlers:
            handler.setFormatter(formatter)
    for name in CHATTY_CLIENT_LOGGERS:
        # httpx logs every request at INFO, full URL included: a line per call and a leak.
        chatty = logging.getLogger(name)
        if chatty.level == logging.NOTSET:
            chatty.setLevel(logging.WARNING)
