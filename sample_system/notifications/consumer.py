"""The notifications consumer: a durable JetStream pull consumer of `orders.confirmed`.

Exactly one notification per confirmed order, across crashes, redeliveries and NATS
restarts: the consumer is durable (NATS remembers what was acknowledged, on disk), a message
is acknowledged only after its notification is stored, and storing is `INSERT OR IGNORE` on
the event id and the order id, so a redelivered or re-published event changes nothing.

Each message is handled in a CONSUMER span continuing the trace in its headers (the checkout
that confirmed the order), so its log lines carry the checkout's trace id.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from sample_system.common.db import Database
from sample_system.common.messaging import (
    SYSTEM,
    Messaging,
    MessagingUnavailable,
    NatsFailure,
    consuming,
    metrics,
)

logger = logging.getLogger(__name__)

SUBJECT = "orders.confirmed"
DURABLE = "notifications"

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    event_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    client TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def record(db: sqlite3.Connection, event: dict[str, Any]) -> bool:
    """Store the notification for a confirmed-order event; False if it was already sent."""
    message = (
        f"Order {event['order_id']} is confirmed: {len(event.get('items', []))} item(s), "
        f"{event.get('total_cents', 0) / 100:.2f} total."
    )
    cursor = db.execute(
        "INSERT OR IGNORE INTO notifications (event_id, order_id, client, message, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (event["event_id"], event["order_id"], event.get("client", ""), message, time.time()),
    )
    return cursor.rowcount == 1


def all_notifications(db: sqlite3.Connection, order_id: str | None) -> list[dict[str, Any]]:
    """Every notification, or those of one order."""
    where, args = ("WHERE order_id = ?", (order_id,)) if order_id else ("", ())
    rows = db.execute(f"SELECT * FROM notifications {where} ORDER BY created_at", args)
    return [dict(row) for row in rows.fetchall()]


class Consumer:
    """Fetches batches from the durable consumer and stores one notification per order."""

    def __init__(self, db: Database, messaging: Messaging, *, batch: int = 64) -> None:
        self._db = db
        self._messaging = messaging
        self._batch = batch
        self._subscription: JetStreamContext.PullSubscription | None = None
        self.delivered = 0
        self.duplicates = 0

    async def poll_once(self) -> None:
        """Wait up to a second for messages and handle them; returns quietly when idle."""
        if not await self._messaging.wait_connected(1.0):
            return
        try:
            if self._subscription is None:
                self._subscription = await self._messaging.pull_subscription(SUBJECT, DURABLE)
            messages = await self._subscription.fetch(self._batch, timeout=1.0)
        except nats.errors.TimeoutError:
            return
        except (MessagingUnavailable, *NatsFailure) as exc:
            await self._drop_subscription()
            raise MessagingUnavailable(f"fetching from {DURABLE} failed: {exc!r}") from exc
        for message in messages:
            await self._handle(message)

    async def _handle(self, message: Msg) -> None:
        with consuming(message, SUBJECT):
            await self._handle_in_trace(message)

    async def _handle_in_trace(self, message: Msg) -> None:
        try:
            event = json.loads(message.data)
            valid = isinstance(event["event_id"], str) and isinstance(event["order_id"], str)
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            logger.error("dropping malformed event %r", message.data[:200])
            metrics().consumed.labels(SYSTEM, SUBJECT, "malformed").inc()
            await message.term()
            return
        if await self._db.write(lambda db: record(db, event)):
            self.delivered += 1
            logger.info("notified order %s", event["order_id"])
        else:
            self.duplicates += 1
        metrics().consumed.labels(SYSTEM, SUBJECT, "").inc()
        await message.ack()

    async def _drop_subscription(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except Exception as exc:  # the connection may be gone; nothing to clean up then
                logger.debug("unsubscribe after failure: %r", exc)
