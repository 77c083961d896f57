"""The outbox relay: publishes order events from the outbox table to NATS JetStream.

Events are written by the same transaction that confirms the order (`store.move`), so the
database is the only thing that must succeed for checkout; the relay ships them whenever
NATS is reachable. Each event carries its `event_id` as `Nats-Msg-Id`: if the relay dies
between JetStream's ack and marking the row published, the next publish of the same event is
dropped by the stream's de-duplication window, and consumers de-duplicate by `event_id` too.

Each event is published in the trace of the request that confirmed the order (its W3C context
is stored with the row), so the trace goes on through NATS to the consumer. After every round
the backlog is exported: `outbox_events_waiting` and `outbox_oldest_event_age_seconds`
(0 when nothing waits) — what an "events are not leaving" alert watches.
"""

from __future__ import annotations

import json
import logging
import time
from functools import cache

from prometheus_client import Gauge

from sample_system.common.backlog import backlog
from sample_system.common.db import Database
from sample_system.common.messaging import Messaging, MessagingUnavailable
from sample_system.orders import store

logger = logging.getLogger(__name__)


@cache
def _backlog() -> tuple[Gauge, Gauge]:
    return (
        Gauge("outbox_events_waiting", "Events in the outbox not yet acknowledged by the broker."),
        Gauge(
            "outbox_oldest_event_age_seconds",
            "Age of the oldest event still waiting in the outbox (0 when none waits).",
        ),
    )


class OutboxRelay:
    """Publishes unpublished outbox rows in order, `batch` at a time."""

    def __init__(self, db: Database, messaging: Messaging, *, batch: int = 100) -> None:
        self._db = db
        self._messaging = messaging
        self._batch = batch
        self.published = 0

    async def publish_pending(self) -> int:
        """Publish what waits in the outbox until it is empty or NATS fails; how many went."""
        total = 0
        while self._messaging.connected:
            rows = await self._db.read(lambda db: store.unpublished(db, self._batch))
            if not rows:
                break
            done: list[int] = []
            try:
                for row in rows:
                    await self._messaging.publish(
                        row["subject"],
                        json.loads(row["payload"]),
                        event_id=row["event_id"],
                        trace_headers=json.loads(row["headers"] or "{}"),
                    )
                    done.append(row["seq"])
            except MessagingUnavailable as exc:
                logger.info("outbox relay paused: %s", exc)
                break
            finally:
                if done:
                    await self._mark_published(done)
                    total += len(done)
            if len(rows) < self._batch:
                break
        self.published += total
        await self.report_backlog()
        return total

    async def report_backlog(self) -> None:
        """Export how many events wait and how old the oldest is."""
        counts = await self._db.read(store.outbox_counts)
        oldest = await self._db.read(store.oldest_waiting)
        waiting, age = _backlog()
        waiting.set(counts["waiting"])
        backlog("outbox_events").set(counts["waiting"])
        age.set(0.0 if oldest is None else max(0.0, time.time() - oldest))

    async def _mark_published(self, seqs: list[int]) -> None:
        await self._db.write(lambda db: store.mark_published(db, seqs))
