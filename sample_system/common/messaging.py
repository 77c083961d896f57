"""NATS JetStream for the shop's events, tolerant of NATS being down.

A service never waits for NATS to start serving HTTP: `Messaging.start()` connects in a
background task, retrying until NATS answers; once connected, nats-py reconnects by itself
for as long as it takes. Callers ask `connected` or catch `MessagingUnavailable` and try
again later: the outbox keeps events until they are published, and a durable consumer
picks up where it left off.

The stream keeps messages on disk (`{data}` of the nats process survives a restart) and
drops a message whose `Nats-Msg-Id` it saw within `DUPLICATE_WINDOW` seconds, so a publisher
that crashes between publishing and marking the event published causes no duplicate.

Traces cross NATS: `publish(..., trace_headers=...)` continues the trace the headers name (the
W3C `traceparent` the outbox stored with the event) in a PRODUCER span and puts that span's
context in the message headers; `consuming(message)` continues it in a CONSUMER span, so one
checkout is one trace from the gateway to notifications, and the consumer's log lines carry
its trace id.

Metrics (OpenTelemetry's messaging names as Prometheus renders them, plus the connection):
`messaging_client_sent_messages_total` and `messaging_client_consumed_messages_total`
{messaging_system, messaging_destination_name, error_type}, and
`messaging_client_connected{messaging_system, server_address}` (1 connected, 0 not).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, Header, StorageType, StreamConfig
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge

from sample_system.common.errors import ShopError

logger = logging.getLogger(__name__)

STREAM = "ORDERS"
SUBJECTS = ["orders.>"]
DUPLICATE_WINDOW = 600.0  # seconds; must outlast the longest NATS outage we expect to ride out

NatsFailure = (
    nats.errors.Error,
    nats.js.errors.Error,
    asyncio.TimeoutError,
    OSError,
)


SYSTEM = "nats"


class MessagingUnavailable(ShopError):
    """NATS is not reachable now; the caller keeps its work and tries again later."""


@dataclass(frozen=True)
class _Metrics:
    sent: Counter
    consumed: Counter
    connected: Gauge


@cache
def metrics() -> _Metrics:
    """The messaging metrics, registered once in the process's default registry."""
    labels = ("messaging_system", "messaging_destination_name", "error_type")
    return _Metrics(
        sent=Counter(
            "messaging_client_sent_messages", "Messages published (acknowledged or not).", labels
        ),
        consumed=Counter(
            "messaging_client_consumed_messages", "Messages delivered to a consumer.", labels
        ),
        connected=Gauge(
            "messaging_client_connected",
            "1 while connected to the broker with the stream in place, else 0.",
            ("messaging_system", "server_address"),
        ),
    )


def trace_headers() -> dict[str, str]:
    """The W3C trace context of the current span (`traceparent`, `tracestate`), to store."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextlib.contextmanager
def consuming(message: Msg, subject: str) -> Iterator[trace.Span]:
    """A CONSUMER span continuing the trace in `message`'s headers (a new trace without one)."""
    parent = propagate.extract(dict(message.headers or {}))
    tracer = trace.get_tracer(__name__)
    with tracer.start_as_current_span(
        f"process {subject}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": SYSTEM,
            "messaging.operation.type": "process",
            "messaging.destination.name": subject,
        },
    ) as span:
        yield span


class Messaging:
    """One NATS connection with JetStream, the ORDERS stream ensured on every (re)connect."""

    def __init__(
        self,
        servers: Sequence[str],
        *,
        name: str,
        retry_seconds: float = 0.5,
        dependency: str = "nats",
    ) -> None:
        self.servers = list(servers)
        self.name = name
        self.dependency = dependency  # the server_address label: the logical name, not a host
        self._retry_seconds = retry_seconds
        self._client: Client | None = None
        self._stream_ready = False
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    def __repr__(self) -> str:
        return f"Messaging({self.servers!r}, connected={self.connected})"

    @property
    def connected(self) -> bool:
        """Connected to NATS with the stream in place."""
        client = self._client
        return client is not None and client.is_connected and self._stream_ready

    async def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        if self._task is None:
            self._report_connected(False)  # exported from the start: absent is not "down"
            self._task = asyncio.create_task(self._connect_forever(), name=f"nats-{self.name}")

    async def wait_connected(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a connection; True when connected."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self.connected

    def jetstream(self) -> JetStreamContext:
        """The JetStream context, or `MessagingUnavailable` while NATS is unreachable."""
        client = self._client
        if client is None or not client.is_connected or not self._stream_ready:
            raise MessagingUnavailable(f"NATS at {', '.join(self.servers)} is not connected")
        return client.jetstream(timeout=2.0)

    async def publish(
        self,
        subject: str,
        event: dict[str, Any],
        *,
        event_id: str,
        trace_headers: Mapping[str, str] | None = None,
    ) -> None:
        """Publish `event` as JSON with `event_id` as the de-duplication id; wait for the ack.

        `trace_headers` (W3C, as stored with the event) make the PRODUCER span a child of the
        trace that produced the event; without them it continues the current context.
        """
        js = self.jetstream()
        payload = json.dumps(event, separators=(",", ":")).encode()
        parent = propagate.extract(dict(trace_headers)) if trace_headers is not None else None
        counter = metrics().sent
        with trace.get_tracer(__name__).start_as_current_span(
            f"publish {subject}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": SYSTEM,
                "messaging.operation.type": "publish",
                "messaging.destination.name": subject,
                "messaging.message.id": event_id,
            },
        ):
            headers = {Header.MSG_ID.value: event_id}
            propagate.inject(headers)  # this PRODUCER span's context, for the consumer
            try:
                await js.publish(subject, payload, headers=headers)
            except NatsFailure as exc:
                counter.labels(SYSTEM, subject, type(exc).__name__).inc()
                raise MessagingUnavailable(f"publishing {event_id} failed: {exc!r}") from exc
        counter.labels(SYSTEM, subject, "").inc()

    async def pull_subscription(
        self, subject: str, durable: str, *, ack_wait: float = 10.0
    ) -> JetStreamContext.PullSubscription:
        """A durable pull subscription on `subject`, created on first use, kept by NATS."""
        js = self.jetstream()
        config = ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait
        )
        try:
            return await js.pull_subscribe(subject, durable=durable, stream=STREAM, config=config)
        except NatsFailure as exc:
            raise MessagingUnavailable(f"subscribing {durable} failed: {exc!r}") from exc

    async def close(self) -> None:
        """Stop connecting and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None

    async def _connect_forever(self) -> None:
        while self._client is None:
            try:
                self._client = await nats.connect(
                    servers=self.servers,
                    name=self.name,
                    connect_timeout=1,
                    reconnect_time_wait=self._retry_seconds,
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except NatsFailure as exc:
                logger.info("NATS not reachable yet (%r); retrying", exc)
                await asyncio.sleep(self._retry_seconds)
        while not self._stream_ready:
            try:
                await self._ensure_stream()
            except NatsFailure as exc:
                logger.info("JetStream stream %s not ready yet (%r); retrying", STREAM, exc)
                await asyncio.sleep(self._retry_seconds)
        self._connected.set()
        self._report_connected(True)
        logger.info("connected to NATS at %s", ", ".join(self.servers))

    async def _ensure_stream(self) -> None:
        assert self._client is not None
        config = StreamConfig(
            name=STREAM,
            subjects=SUBJECTS,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW,
        )
        jsm = self._client.jetstream(timeout=2.0)
        try:
            await jsm.add_stream(config)
        except nats.js.errors.BadRequestError:  # exists with another config: bring it in line
            await jsm.update_stream(config)
        self._stream_ready = True

    async def _on_error(self, exc: Exception) -> None:
        logger.debug("NATS client error: %r", exc)

    def _report_connected(self, connected: bool) -> None:
        metrics().connected.labels(SYSTEM, self.dependency).set(1 if connected else 0)

    async def _on_disconnected(self) -> None:
        self._report_connected(False)
        logger.warning("disconnected from NATS; reconnecting in the background")

    async def _on_reconnected(self) -> None:
        self._report_connected(self._stream_ready)
        logger.info("reconnected to NATS")
