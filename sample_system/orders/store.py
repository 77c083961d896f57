"""Orders and their outbox: the orders service's records, as functions over SQLite.

An order is `pending` until its checkout saga ends `confirmed` or `failed`; `step` says what
the saga does next (`reserve`, `charge`, `confirm`, `refund`, `release`, `done`) and `reason`
why it is where it is. Moving an order is a compare-and-set on its step, so two drivers (a
request and the reconciler, or two replicas) can never both take the same step forward.

The confirmation and its event are written in one transaction: the event row in `outbox` is
published later by the relay (`outbox.py`), so no confirmed order can lose its event and no
event can exist for an order that was not confirmed.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["pending", "confirmed", "failed"]
Step = Literal["reserve", "charge", "confirm", "refund", "release", "done"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'failed')),
    step TEXT NOT NULL
        CHECK (step IN ('reserve', 'charge', 'confirm', 'refund', 'release', 'done')),
    reason TEXT NOT NULL DEFAULT '',
    charge_uncertain INTEGER NOT NULL DEFAULT 0,
    items TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    card_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (client, idempotency_key)
);
CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state, updated_at);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    headers TEXT NOT NULL DEFAULT '{}',  -- W3C trace context of the confirming request
    created_at REAL NOT NULL,
    published_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (published_at, seq);
"""


@dataclass(frozen=True)
class Order:
    """One order as stored."""

    id: str
    client: str
    idempotency_key: str
    request_hash: str
    state: State
    step: Step
    reason: str
    charge_uncertain: bool
    items: list[dict[str, int]]
    total_cents: int
    card_token: str
    created_at: float
    updated_at: float

    def public(self) -> dict[str, Any]:
        """The order as the API shows it (no card token, no internals)."""
        return {
            "order_id": self.id,
            "state": self.state,
            "step": self.step,
            "reason": self.reason,
            "items": self.items,
            "total_cents": self.total_cents,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _order(row: sqlite3.Row) -> Order:
    return Order(
        id=row["id"],
        client=row["client"],
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        state=row["state"],
        step=row["step"],
        reason=row["reason"],
        charge_uncertain=bool(row["charge_uncertain"]),
        items=json.loads(row["items"]),
        total_cents=row["total_cents"],
        card_token=row["card_token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get(db: sqlite3.Connection, order_id: str) -> Order | None:
    """An order by id."""
    row = db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    return None if row is None else _order(row)


def find(db: sqlite3.Connection, client: str, idempotency_key: str) -> Order | None:
    """The order a client created with an idempotency key."""
    row = db.execute(
        "SELECT * FROM orders WHERE client = ? AND idempotency_key = ?", (client, idempotency_key)
    ).fetchone()
    return None if row is None else _order(row)


def create(
    db: sqlite3.Connection,
    *,
    client: str,
    idempotency_key: str,
    request_hash: str,
    items: list[dict[str, int]],
    card_token: str,
) -> tuple[Order, bool]:
    """Insert a new pending order, or return the one this key already made; (order, created)."""
    existing = find(db, client, idempotency_key)
    if existing is not None:
        return existing, False
    now = time.time()
    order_id = uuid.uuid4().hex
    total = sum(item["quantity"] * item["unit_price_cents"] for item in items)
    db.execute(
        "INSERT INTO orders (id, client, idempotency_key, request_hash, state, step, items, "
        "total_cents, card_token, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 'pending', 'reserve', ?, ?, ?, ?, ?)",
        (order_id, client, idempotency_key, request_hash, json.dumps(items), total, card_token,
         now, now),
    )  # fmt: skip
    order = get(db, order_id)
    assert order is not None
    return order, True


def move(
    db: sqlite3.Connection,
    order: Order,
    step: Step,
    *,
    reason: str | None = None,
    state: State = "pending",
    charge_uncertain: bool | None = None,
    trace_headers: dict[str, str] | None = None,
) -> Order | None:
    """Move `order` from the step it was read at to `step`; None if someone moved it first.

    Confirming writes the order's event with `trace_headers` (the W3C context of the trace
    that confirmed it), which the relay continues when it publishes the event.
    """
    now = time.time()
    cursor = db.execute(
        "UPDATE orders SET step = ?, state = ?, reason = ?, charge_uncertain = ?, updated_at = ? "
        "WHERE id = ? AND step = ? AND state = 'pending'",
        (
            step,
            state,
            order.reason if reason is None else reason,
            int(order.charge_uncertain if charge_uncertain is None else charge_uncertain),
            now,
            order.id,
            order.step,
        ),
    )
    if cursor.rowcount != 1:
        return None
    if state == "confirmed":
        _add_confirmed_event(db, order, now, trace_headers or {})
    return get(db, order.id)


def _add_confirmed_event(
    db: sqlite3.Connection, order: Order, now: float, headers: dict[str, str]
) -> None:
    event_id = f"order-confirmed-{order.id}"
    payload = {
        "event_id": event_id,
        "type": "order.confirmed",
        "order_id": order.id,
        "client": order.client,
        "total_cents": order.total_cents,
        "items": order.items,
        "confirmed_at": now,
    }
    db.execute(
        "INSERT OR IGNORE INTO outbox (event_id, subject, payload, headers, created_at) "
        "VALUES (?, 'orders.confirmed', ?, ?, ?)",
        (event_id, json.dumps(payload), json.dumps(headers), now),
    )


def claim_stale(db: sqlite3.Connection, older_than: float, limit: int) -> list[Order]:
    """Pending orders untouched for `older_than` s, claimed by touching them (a lease)."""
    now = time.time()
    rows = db.execute(
        "SELECT * FROM orders WHERE state = 'pending' AND updated_at <= ? "
        "ORDER BY updated_at LIMIT ?",
        (now - older_than, limit),
    ).fetchall()
    claimed = [_order(row) for row in rows]
    db.executemany(
        "UPDATE orders SET updated_at = ? WHERE id = ?", [(now, order.id) for order in claimed]
    )
    return [get(db, order.id) or order for order in claimed]


def count_pending(db: sqlite3.Connection) -> int:
    """How many orders are pending (live checkouts and those the reconciler still owes)."""
    return int(db.execute("SELECT count(*) FROM orders WHERE state = 'pending'").fetchone()[0])


def all_orders(db: sqlite3.Connection, state: str | None) -> list[dict[str, Any]]:
    """Every order (optionally of one state), for the audit: with its client and key."""
    where, args = ("WHERE state = ?", (state,)) if state else ("", ())
    rows = db.execute(f"SELECT * FROM orders {where} ORDER BY created_at", args).fetchall()
    return [
        {**order.public(), "client": order.client, "idempotency_key": order.idempotency_key}
        for order in map(_order, rows)
    ]


def all_events(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every outbox event with the order it is about, as stored (for the audit)."""
    rows = db.execute(
        "SELECT event_id, subject, json_extract(payload, '$.order_id') AS order_id, "
        "published_at IS NOT NULL AS published FROM outbox ORDER BY seq"
    ).fetchall()
    return [{**dict(row), "published": bool(row["published"])} for row in rows]


def unpublished(db: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    """Outbox events not yet published, oldest first."""
    return db.execute(
        "SELECT seq, event_id, subject, payload, headers FROM outbox WHERE published_at IS NULL "
        "ORDER BY seq LIMIT ?",
        (limit,),
    ).fetchall()


def mark_published(db: sqlite3.Connection, seqs: list[int]) -> None:
    """Record that these outbox events were acknowledged by JetStream."""
    db.executemany(
        "UPDATE outbox SET published_at = ? WHERE seq = ?", [(time.time(), s) for s in seqs]
    )


def outbox_counts(db: sqlite3.Connection) -> dict[str, int]:
    """How many events wait in the outbox and how many were published."""
    row = db.execute(
        "SELECT count(*) - count(published_at) AS waiting, count(published_at) AS published "
        "FROM outbox"
    ).fetchone()
    return {"waiting": row["waiting"], "published": row["published"]}


def oldest_waiting(db: sqlite3.Connection) -> float | None:
    """When the oldest unpublished event was written (epoch seconds), or None."""
    row = db.execute(
        "SELECT min(created_at) AS oldest FROM outbox WHERE published_at IS NULL"
    ).fetchone()
    return None if row["oldest"] is None else float(row["oldest"])
