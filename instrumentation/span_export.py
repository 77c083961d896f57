"""A span processor that hands finished spans to an exporter process instead of encoding them.

`ExporterProcessSpanProcessor` is a plain SDK `SpanProcessor`: it sits in the tracer provider
where a `BatchSpanProcessor` would, beside any processor the user adds. On `on_end` it only
reads the finished span into a tuple of plain values (`encode`) and queues it; a background
thread writes the queue, a batch per frame, to the exporter process (`exporter_process.py`),
which rebuilds the spans and runs the official exporter. What stays on the worker's
interpreter is that tuple and a `marshal.dumps` per batch, a few microseconds per span,
instead of the OTLP encoding (docs/performance.md has both costs).

Never on the request path: `on_end` never blocks and never raises; the queue is bounded (a
full queue drops spans, logged once); a slow or unreachable backend fills the pipe, then the
queue, never the request. The exporter process is started on the first span (so a forked
worker starts its own), restarted after a pause when it dies, and closed — after exporting
what it was sent — on `shutdown()`, which the SDK calls at exit.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from typing import IO, Any

from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from instrumentation import exporter_process
from instrumentation.exporter_process import frame, read_frame, write_frame

logger = logging.getLogger(__name__)

def _env_int(name: str, default: int) -> int:
    # The BatchSpanProcessor's variables, read the same way: a bad value means the default.
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def _items(mapping: Any) -> tuple[tuple[str, Any], ...] | None:
    return tuple(mapping.items()) if mapping else None


def _attributes(value: Any) -> tuple[dict[str, Any] | None, int]:
    # BoundedAttributes keeps its values in a plain dict, which marshal writes as it is; a
    # finished span's attributes no longer change, so the dict is not copied.
    inner = getattr(value, "_dict", None)
    if inner is not None:
        return inner, value.dropped
    return (dict(value) if value else None), 0


def encode(span: ReadableSpan, own_resource: Resource, scopes: dict[Any, Any]) -> tuple[Any, ...]:
    """A finished span as a tuple of plain values (layout: `exporter_process` record fields).

    Reads the SDK's `ReadableSpan` fields directly: its public properties copy events, links
    and attributes, which is the work this module exists to avoid.
    """
    context = span._context
    assert context is not None  # on_end passes only spans with a context
    parent = span._parent
    attributes, dropped_attributes = _attributes(span._attributes)
    events = (
        tuple((e.name, e.timestamp, *_attributes(e.attributes)) for e in span._events)
        if span._events
        else ()
    )
    links = (
        tuple(
            (
                link.context.trace_id,
                link.context.span_id,
                int(link.context.trace_flags),
                _items(link.context.trace_state),
                link.context.is_remote,
                *_attributes(link.attributes),
            )
            for link in span._links
        )
        if span._links
        else ()
    )
    scope = span._instrumentation_scope
    scope_key = scopes.get(scope)
    if scope_key is None and scope is not None:
        scope_key = scopes[scope] = (
            scope.name,
            scope.version,
            scope.schema_url,
            _items(scope.attributes),
        )
    resource = span._resource
    return (
        span._name,
        context.trace_id,
        context.span_id,
        int(context.trace_flags),
        _items(context.trace_state),
        None
        if parent is None
        else (parent.trace_id, parent.span_id, int(parent.trace_flags), parent.is_remote),
        span._kind.value,
        span._start_time,
        span._end_time,
        attributes,
        dropped_attributes,
        events,
        getattr(span._events, "dropped", 0),
        links,
        getattr(span._links, "dropped", 0),
        (span._status.status_code.value, span._status.description),
        scope_key,
        None if resource is own_resource else (_items(resource.attributes), resource.schema_url),
    )


class ExporterProcessSpanProcessor(SpanProcessor):
    """Queues finished sampled spans for the exporter process; see the module doc."""

    def __init__(
        self,
        config: dict[str, Any],
        resource: Resource,
        *,
        max_queue_size: int | None = None,
        max_batch_size: int | None = None,
        schedule_delay_millis: int | None = None,
        shutdown_timeout: float = 5.0,
        respawn_pause: float = 5.0,
    ) -> None:
        self._config = {**config, "resource": (dict(resource.attributes), resource.schema_url)}
        self._resource = resource
        self._max_queue = max_queue_size or _env_int(OTEL_BSP_MAX_QUEUE_SIZE, 4096)
        self._max_batch = max_batch_size or _env_int(OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512)
        self._delay = (schedule_delay_millis or _env_int(OTEL_BSP_SCHEDULE_DELAY, 1000)) / 1000
        self._shutdown_timeout = shutdown_timeout
        self._respawn_pause = respawn_pause
        self._scopes: dict[Any, Any] = {}
        self._warned: set[str] = set()
        self._reset()
        own = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := own()) and m())

    def _after_fork(self) -> None:
        # The parent's threads did not come along; its pipes did: close them here, so the
        # parent's exporter process still sees its input end when the parent closes it.
        process = self._process
        for pipe in (process.stdin, process.stdout) if process is not None else ():
            if pipe is not None:
                with contextlib.suppress(OSError):
                    os.close(pipe.fileno())
        self._reset()

    def _reset(self) -> None:
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._next_spawn = 0.0
        self._acks = threading.Condition()
        self._flush_wanted = 0  # flushes asked for, sent, and answered: numbered in order
        self._flushes_sent = 0
        self._flushed = (0, True)
        self._stopping = False
        self.dropped = 0

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    @property
    def pid(self) -> int | None:
        """The exporter process's id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            context = span._context
            if context is None or not context.trace_flags.sampled or self._stopping:
                return
            queue = self._queue
            if len(queue) >= self._max_queue:
                self.dropped += 1
                self._warn_once("full", "span queue full (%d): dropping spans", self._max_queue)
                return
            queue.append(encode(span, self._resource, self._scopes))
            if self._writer is None:
                self._start_writer()
            elif len(queue) >= self._max_batch:
                self._wake.set()
        except Exception as exc:  # a span that cannot be queued is lost, the request is not
            self._warn_once("encode", "could not queue a finished span: %r", exc)

    def _start_writer(self) -> None:
        with self._start_lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="gameday-span-export", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        self._running_process()  # started now, it has imported its exporter by the first batch
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            stopping = self._stopping
            self._send_queued()
            if stopping:
                return

    def _send_queued(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), self._max_batch))]
            if not self._send(("spans", batch)):
                self.dropped += len(batch)
        wanted = self._flush_wanted
        if wanted > self._flushes_sent:
            if self._send(("flush", wanted)):
                self._flushes_sent = wanted
            else:
                self._answer_flushes(wanted, ok=False)

    def _answer_flushes(self, upto: int, *, ok: bool) -> None:
        with self._acks:
            if upto > self._flushed[0]:
                self._flushed = (upto, ok)
            self._acks.notify_all()

    def _send(self, message: tuple[Any, ...]) -> bool:
        try:
            data = frame(message)
        except ValueError as exc:  # a value marshal cannot write: that batch is lost
            self._warn_once("marshal", "could not encode a batch of spans: %r", exc)
            return False
        process = self._running_process()
        if process is None or process.stdin is None:
            return False
        try:
            process.stdin.write(data)
            process.stdin.flush()
            return True
        except (OSError, ValueError) as exc:  # a closed pipe: the process is gone
            self._warn_once("pipe", "the exporter process stopped (%r); restarting it", exc)
            self._process = None
            self._next_spawn = time.monotonic() + self._respawn_pause
            return False

    def _running_process(self) -> subprocess.Popen[bytes] | None:
        process = self._process
        if process is not None:
            if process.poll() is None:
                return process
            self._warn_once(
                "exited", "the exporter process exited with code %s; restarting it",
                process.returncode,
            )  # fmt: skip
            self._process = None
            self._next_spawn = time.monotonic() + self._respawn_pause
        if time.monotonic() < self._next_spawn:
            return None
        try:
            self._process = self._spawn()
        except Exception as exc:
            self._warn_once("spawn", "could not start the exporter process: %r", exc)
            self._next_spawn = time.monotonic() + self._respawn_pause
        return self._process

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-P", exporter_process.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert process.stdin is not None and process.stdout is not None
        write_frame(process.stdin, ("config", self._config))
        threading.Thread(
            target=self._read_loop, args=(process.stdout,), name="gameday-span-export-answers",
            daemon=True,
        ).start()  # fmt: skip
        return process

    def _read_loop(self, stream: IO[bytes]) -> None:
        # Answers to flushes, and the exporter process's log records, logged here as ours.
        try:
            while (message := read_frame(stream)) is not None:
                if message[0] == "flushed":
                    self._answer_flushes(message[1], ok=message[2])
                elif message[0] == "log":
                    logging.getLogger(message[2]).log(message[1], message[3])
        except (OSError, ValueError):
            pass
        self._answer_flushes(self._flushes_sent, ok=False)  # the process is gone

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Send everything queued and wait until the exporter process has exported it."""
        if self._writer is None:
            return True
        deadline = time.monotonic() + timeout_millis / 1000
        with self._acks:
            self._flush_wanted += 1
            wanted = self._flush_wanted
        self._wake.set()
        with self._acks:
            while self._flushed[0] < wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._acks.wait(remaining)
            return self._flushed[1]

    def shutdown(self) -> None:
        """Send what is queued, close the exporter process's input, wait for it to finish."""
        if self._stopping:
            return
        self._stopping = True
        writer = self._writer
        if writer is None:
            return
        self._wake.set()
        writer.join(self._shutdown_timeout)
        process = self._process
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(self._shutdown_timeout)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
