"""Stock and reservations: the inventory's rules, as functions over its SQLite connection.

A reservation is keyed by order id and moves `held -> committed` or `held -> released`,
never back. Every operation is idempotent, so callers may retry any of them:

- reserving again with the same items returns the existing reservation;
- committing a committed reservation, or releasing a released one, changes nothing;
- releasing an order that was never reserved leaves a `released` tombstone, so a reserve
  request that arrives late (it was delayed, the caller gave up and compensated) cannot
  hold stock for an order that has already failed.

Stock is conserved: for every product `initial = available + held + committed`, because each
function moves quantities between those buckets inside one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sample_system.common.errors import ApiError
from sample_system.common.seed import SEED_PRODUCTS

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    product_id INTEGER PRIMARY KEY,
    initial INTEGER NOT NULL,
    available INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS reservations (
    order_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('held', 'committed', 'released')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reservation_items (
    order_id TEXT NOT NULL REFERENCES reservations (order_id),
    product_id INTEGER NOT NULL REFERENCES stock (product_id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX IF NOT EXISTS reservations_by_state ON reservations (state);
"""

Items = Sequence[tuple[int, int]]  # (product_id, quantity), sorted by product id


def seed(db: sqlite3.Connection, initial_stock: int) -> None:
    """Give every demo product `initial_stock` units, unless it already has stock."""
    db.executemany(
        "INSERT OR IGNORE INTO stock (product_id, initial, available) VALUES (?, ?, ?)",
        [(p.id, initial_stock, initial_stock) for p in SEED_PRODUCTS],
    )


def available(db: sqlite3.Connection, product_id: int) -> int:
    """Units of a product that can still be reserved; 404 for an unknown product."""
    row = db.execute("SELECT available FROM stock WHERE product_id = ?", (product_id,)).fetchone()
    if row is None:
        raise ApiError(
            404,
            "product_not_found",
            f"inventory has no stock record for product {product_id}",
            "use a product id from the catalog",
        )
    return int(row["available"])


def get(db: sqlite3.Connection, order_id: str) -> dict[str, Any] | None:
    """The reservation of an order with its items, or None."""
    row = db.execute("SELECT * FROM reservations WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        return None
    items = db.execute(
        "SELECT product_id, quantity FROM reservation_items WHERE order_id = ? ORDER BY product_id",
        (order_id,),
    ).fetchall()
    return {
        "order_id": order_id,
        "state": row["state"],
        "items": [{"product_id": i["product_id"], "quantity": i["quantity"]} for i in items],
    }


def reserve(db: sqlite3.Connection, order_id: str, items: Items) -> tuple[dict[str, Any], bool]:
    """Hold stock for an order, all items or none; returns (reservation, created)."""
    existing = get(db, order_id)
    if existing is not None:
        held = [(i["product_id"], i["quantity"]) for i in existing["items"]]
        if existing["state"] == "released":
            raise ApiError(
                409,
                "reservation_released",
                f"the reservation of order {order_id} was already released",
                "start a new order; a released order cannot hold stock again",
            )
        if held != list(items):
            raise ApiError(
                409,
                "reservation_mismatch",
                f"order {order_id} already holds {held}, not {list(items)}",
                "reserve each order id once, with the same items on every retry",
            )
        return existing, False
    for product_id, quantity in items:
        in_stock = available(db, product_id)
        if in_stock < quantity:
            raise ApiError(
                409,
                "out_of_stock",
                f"product {product_id} has {in_stock} units available, {quantity} requested",
                "order fewer units or another product",
                product_id=product_id,
                available=in_stock,
            )
    now = time.time()
    db.execute(
        "INSERT INTO reservations (order_id, state, created_at, updated_at) "
        "VALUES (?, 'held', ?, ?)",
        (order_id, now, now),
    )
    for product_id, quantity in items:
        db.execute(
            "UPDATE stock SET available = available - ? WHERE product_id = ?",
            (quantity, product_id),
        )
        db.execute(
            "INSERT INTO reservation_items (order_id, product_id, quantity) VALUES (?, ?, ?)",
            (order_id, product_id, quantity),
        )
    reservation = get(db, order_id)
    assert reservation is not None
    return reservation, True


def commit(db: sqlite3.Connection, order_id: str) -> dict[str, Any]:
    """Turn held stock into sold stock; idempotent."""
    reservation = get(db, order_id)
    if reservation is None:
        raise ApiError(
            404,
            "reservation_not_found",
            f"order {order_id} has no reservation",
            "reserve with PUT /reservations/{order_id} before committing",
        )
    if reservation["state"] == "released":
        raise ApiError(
            409,
            "reservation_released",
            f"the reservation of order {order_id} was released and cannot be committed",
            "the order has failed; refund its payment instead of confirming it",
        )
    if reservation["state"] == "held":
        _set_state(db, order_id, "committed")
        reservation["state"] = "committed"
    return reservation


def release(db: sqlite3.Connection, order_id: str) -> dict[str, Any]:
    """Give held stock back (or leave a tombstone for an unknown order); idempotent."""
    reservation = get(db, order_id)
    if reservation is None:
        now = time.time()
        db.execute(
            "INSERT INTO reservations (order_id, state, created_at, updated_at) "
            "VALUES (?, 'released', ?, ?)",
            (order_id, now, now),
        )
        return {"order_id": order_id, "state": "released", "items": []}
    if reservation["state"] == "committed":
        raise ApiError(
            409,
            "reservation_committed",
            f"the reservation of order {order_id} is committed and cannot be released",
            "a confirmed order keeps its stock",
        )
    if reservation["state"] == "held":
        for item in reservation["items"]:
            db.execute(
                "UPDATE stock SET available = available + ? WHERE product_id = ?",
                (item["quantity"], item["product_id"]),
            )
        _set_state(db, order_id, "released")
        reservation["state"] = "released"
    return reservation


def _set_state(db: sqlite3.Connection, order_id: str, state: str) -> None:
    db.execute(
        "UPDATE reservations SET state = ?, updated_at = ? WHERE order_id = ?",
        (state, time.time(), order_id),
    )


def all_stock(db: sqlite3.Connection) -> list[dict[str, int]]:
    """Every product's initial and available units (for the audit)."""
    rows = db.execute("SELECT * FROM stock ORDER BY product_id").fetchall()
    return [
        {"product_id": r["product_id"], "initial": r["initial"], "available": r["available"]}
        for r in rows
    ]


def stored(db: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every stock, reservation and reserved-line row as stored, ungrouped (for the audit)."""
    tables = {
        "stock": "SELECT product_id, initial, available FROM stock ORDER BY product_id",
        "reservations": "SELECT order_id, state FROM reservations ORDER BY order_id",
        "items": "SELECT order_id, product_id, quantity FROM reservation_items "
        "ORDER BY order_id, product_id",
    }
    return {name: [dict(row) for row in db.execute(sql)] for name, sql in tables.items()}


def all_reservations(db: sqlite3.Connection, state: str | None) -> list[dict[str, Any]]:
    """Every reservation (optionally of one state) with its items (for the audit)."""
    where, args = ("WHERE r.state = ?", (state,)) if state else ("", ())
    rows = db.execute(
        "SELECT r.order_id, r.state, i.product_id, i.quantity FROM reservations r "
        f"LEFT JOIN reservation_items i ON i.order_id = r.order_id {where} "
        "ORDER BY r.order_id, i.product_id",
        args,
    ).fetchall()
    return list(_grouped(rows))


def _grouped(rows: Iterable[sqlite3.Row]) -> Iterable[dict[str, Any]]:
    current: dict[str, Any] | None = None
    for row in rows:
        if current is None or current["order_id"] != row["order_id"]:
            if current is not None:
                yield current
            current = {"order_id": row["order_id"], "state": row["state"], "items": []}
        if row["product_id"] is not None:
            current["items"].append({"product_id": row["product_id"], "quantity": row["quantity"]})
    if current is not None:
        yield current
