"""Charges, one per order id: the payments service's records, as functions over SQLite.

A charge is `processing` from the moment it is accepted until the processor answered, then
`captured` or `declined`; a captured charge can be `refunded`. The row is written before the
processor is called, so a replica that dies mid-charge leaves a `processing` row that the
next request for the same order drives to its outcome (the processor is idempotent).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sample_system.common.errors import ApiError

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    order_id TEXT PRIMARY KEY,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    card_token TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('processing', 'captured', 'declined', 'refunded')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_by_state ON charges (state);
"""

FINAL_STATES = frozenset({"captured", "declined", "refunded"})


def _charge(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "order_id": row["order_id"],
        "amount_cents": row["amount_cents"],
        "state": row["state"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def get(db: sqlite3.Connection, order_id: str) -> dict[str, Any] | None:
    """The charge of an order, or None."""
    row = db.execute("SELECT * FROM charges WHERE order_id = ?", (order_id,)).fetchone()
    return None if row is None else _charge(row)


def begin(
    db: sqlite3.Connection, order_id: str, amount_cents: int, card_token: str
) -> dict[str, Any]:
    """Record the charge as processing, or return the one already recorded for this order."""
    existing = get(db, order_id)
    if existing is not None:
        if existing["amount_cents"] != amount_cents:
            raise ApiError(
                409,
                "charge_mismatch",
                f"order {order_id} was already charged {existing['amount_cents']} cents, "
                f"not {amount_cents}",
                "charge each order id once, with the same amount on every retry",
            )
        return existing
    now = time.time()
    db.execute(
        "INSERT INTO charges (order_id, amount_cents, card_token, state, created_at, updated_at) "
        "VALUES (?, ?, ?, 'processing', ?, ?)",
        (order_id, amount_cents, card_token, now, now),
    )
    charge = get(db, order_id)
    assert charge is not None
    return charge


def card_token(db: sqlite3.Connection, order_id: str) -> str:
    """The card token recorded for a charge (to drive an interrupted charge again)."""
    row = db.execute("SELECT card_token FROM charges WHERE order_id = ?", (order_id,)).fetchone()
    return str(row["card_token"])


def finish(db: sqlite3.Connection, order_id: str, outcome: str) -> dict[str, Any]:
    """Record the processor's outcome unless another request already did; the final charge."""
    db.execute(
        "UPDATE charges SET state = ?, updated_at = ? WHERE order_id = ? AND state = 'processing'",
        (outcome, time.time(), order_id),
    )
    charge = get(db, order_id)
    assert charge is not None
    return charge


def refund(db: sqlite3.Connection, order_id: str) -> dict[str, Any]:
    """Refund a captured charge; idempotent. A declined charge has nothing to refund."""
    charge = get(db, order_id)
    if charge is None:
        raise ApiError(
            404,
            "charge_not_found",
            f"order {order_id} has no charge",
            "nothing to refund: the order was never charged",
        )
    if charge["state"] == "processing":
        raise ApiError(
            409,
            "charge_in_progress",
            f"the charge of order {order_id} is still processing",
            "retry the refund once the charge has an outcome",
        )
    if charge["state"] == "captured":
        db.execute(
            "UPDATE charges SET state = 'refunded', updated_at = ? WHERE order_id = ?",
            (time.time(), order_id),
        )
        charge["state"] = "refunded"
    return charge


def all_charges(db: sqlite3.Connection, state: str | None) -> list[dict[str, Any]]:
    """Every charge, optionally of one state (for the audit)."""
    where, args = ("WHERE state = ?", (state,)) if state else ("", ())
    rows = db.execute(f"SELECT * FROM charges {where} ORDER BY created_at", args).fetchall()
    return [_charge(row) for row in rows]
