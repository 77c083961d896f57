"""The exporter process: the official OTLP exporters, fed finished spans by a service's worker.

Encoding spans to OTLP (protobuf or JSON) is pure Python and costs more than a small request;
in the worker it competes with requests for the interpreter. So a worker hands its finished
spans over a pipe in a compact form (`span_export.py`), and this process — started by the
worker, one per worker, the way a Collector sidecar takes the work — rebuilds them as SDK
`ReadableSpan`s and gives them to the unchanged `OTLPSpanExporter` or `FileSpanExporter`.

It imports nothing from the `instrumentation` package, so it starts on the SDK and exporter
alone (`python -P exporter_process.py`), and it has no logging of its own: every log record is
sent back to the worker, which logs it like any other (JSON lines, repeats suppressed). It
ignores SIGINT/SIGTERM and exits when its input closes, after exporting what it received,
so a worker that stops for any reason (even SIGKILL) never leaves it behind.

Frames, both ways: a 4-byte big-endian length, then a `marshal`ed tuple.
  worker -> exporter: ("config", dict), ("spans", [record, ...]), ("flush", n)
  exporter -> worker: ("flushed", n, ok), ("log", levelno, logger name, message)
"""

from __future__ import annotations

import logging
import marshal
import os
import signal
import struct
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

_LENGTH = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024

# A record: one finished span, as `span_export.encode` writes it.
(NAME, TRACE_ID, SPAN_ID, FLAGS, TRACE_STATE, PARENT, KIND, START, END, ATTRIBUTES,
 DROPPED_ATTRIBUTES, EVENTS, DROPPED_EVENTS, LINKS, DROPPED_LINKS, STATUS, SCOPE,
 RESOURCE) = range(18)  # fmt: skip


def frame(message: tuple[Any, ...]) -> bytes:
    """One frame: the length, then the marshalled message (ValueError if it holds objects)."""
    payload = marshal.dumps(message)
    return _LENGTH.pack(len(payload)) + payload


def write_frame(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    """Write one frame and flush it."""
    stream.write(frame(message))
    stream.flush()


def read_frame(stream: IO[bytes]) -> tuple[Any, ...] | None:
    """The next frame, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes is larger than {MAX_FRAME}: not our sender")
    payload = stream.read(length)
    if len(payload) < length:
        return None
    message = marshal.loads(payload)
    if not isinstance(message, tuple) or not message:
        raise ValueError(f"malformed frame {message!r:.80}")
    return message


def decode(
    record: tuple[Any, ...], resources: Callable[[Any], Any], scopes: Callable[[Any], Any]
) -> Any:
    """The SDK `ReadableSpan` a record was made from."""
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util import BoundedList
    from opentelemetry.trace import (
        Link,
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
        TraceState,
    )

    def attributes(values: dict[str, Any] | None, dropped: int) -> Any:
        if not dropped:
            return values
        bounded = BoundedAttributes(maxlen=None, attributes=values, immutable=True)
        bounded.dropped = dropped
        return bounded

    def bounded(items: list[Any], dropped: int) -> Any:
        if not dropped:
            return items
        kept: Any = BoundedList(None)
        kept.extend(items)
        kept.dropped = dropped
        return kept

    def state(items: Any) -> Any:
        return TraceState(items) if items else None

    parent = record[PARENT]
    events = [
        Event(name, attributes(values, dropped), timestamp)
        for name, timestamp, values, dropped in record[EVENTS]
    ]
    links = [
        Link(
            SpanContext(tid, sid, remote, TraceFlags(flags), state(ts)),
            attributes(values, dropped),
        )
        for tid, sid, flags, ts, remote, values, dropped in record[LINKS]
    ]
    code, description = record[STATUS]
    return ReadableSpan(
        name=record[NAME],
        context=SpanContext(
            record[TRACE_ID],
            record[SPAN_ID],
            False,
            TraceFlags(record[FLAGS]),
            state(record[TRACE_STATE]),
        ),
        parent=None
        if parent is None
        else SpanContext(parent[0], parent[1], parent[3], TraceFlags(parent[2])),
        resource=resources(record[RESOURCE]),
        attributes=attributes(record[ATTRIBUTES], record[DROPPED_ATTRIBUTES]),
        events=bounded(events, record[DROPPED_EVENTS]),
        links=bounded(links, record[DROPPED_LINKS]),
        kind=SpanKind(record[KIND]),
        status=Status(StatusCode(code), description),
        start_time=record[START],
        end_time=record[END],
        instrumentation_scope=scopes(record[SCOPE]),
    )


def build_exporter(config: dict[str, Any]) -> Any:
    """The official exporter named by the worker's configuration."""
    if config["kind"] == "otlp_http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=config["endpoint"], timeout=config["timeout"])
    if config["kind"] == "otlp_json_file":
        from opentelemetry.exporter.otlp.json.file import FileSpanExporter

        return FileSpanExporter(config["path"])
    raise ValueError(f"unknown exporter kind {config['kind']!r}")


class _ToWorker(logging.Handler):
    """Sends the first record of each (logger, message template) to the worker to log.

    Exporters log every failed batch; the repeats stay here, as the worker's own log-once
    filter would drop them (docs/instrumentation.md, Safety).
    """

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__(logging.DEBUG)
        self.send = send
        self.seen: set[tuple[str, str]] = set()

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.name, str(record.msg))
        if key in self.seen:
            return
        self.seen.add(key)
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f": {record.exc_info[1]!r}"
            self.send(("log", record.levelno, record.name, text))
        except Exception:  # a log line must never stop the export
            pass


def serve(source: IO[bytes], send: Callable[[tuple[Any, ...]], None]) -> None:
    """Export every batch read from `source` until it closes; answer flushes with `send`."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    first = read_frame(source)
    if first is None or first[0] != "config":
        raise ValueError(f"the first frame must be the configuration, got {first!r:.80}")
    config: dict[str, Any] = first[1]
    exporter = build_exporter(config)
    # Resources and scopes arrive as hashable tuples: (attribute items, schema url) and
    # (name, version, schema url, attribute items); the worker's own resource as None.
    resource_cache: dict[Any, Any] = {None: Resource(*config["resource"])}
    scope_cache: dict[Any, Any] = {}

    def resources(key: Any) -> Any:
        found = resource_cache.get(key)
        if found is None:
            found = resource_cache[key] = Resource(dict(key[0]), key[1])
        return found

    def scopes(key: Any) -> Any:
        found = scope_cache.get(key)
        if found is None:
            name, version, schema_url, items = key
            found = InstrumentationScope(name, version, schema_url, dict(items) if items else None)
            scope_cache[key] = found
        return found

    log = logging.getLogger("gameday.exporter_process")
    try:
        while (message := read_frame(source)) is not None:
            if message[0] == "spans":
                try:
                    exporter.export([decode(r, resources, scopes) for r in message[1]])
                except Exception as exc:  # one bad batch must not end the process
                    log.warning("exporting %d spans failed: %r", len(message[1]), exc)
            elif message[0] == "flush":
                send(("flushed", message[1], bool(exporter.force_flush())))
    finally:
        exporter.shutdown()


def main() -> None:
    """Entry point: frames on stdin, answers and log records on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when this ends
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the worker's pipe
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            write_frame(sink, message)

    root = logging.getLogger()
    root.handlers[:] = [_ToWorker(send)]
    root.setLevel(logging.INFO)
    try:
        serve(source, send)
    except Exception as exc:
        logging.getLogger("gameday.exporter_process").error("exporter process failed: %r", exc)
        os._exit(1)


if __name__ == "__main__":
    main()
