"""One planted violation (or more) per invariant, written straight into the services' files.

Each planter breaks exactly one invariant of the clean data (`shopdata.py`) and returns the
entity the audit must name ("order <id>", "product 6", ...). Where the break would upset a
second invariant it repairs that one too (a reservation's lines changed, stock moved to match),
so the audit's answer must be that one violation and nothing else.

A "second row" needs the table's uniqueness gone first (`unconstrained`): the schemas forbid
it today, and the planters prove the audit would see it anyway (it counts rows; it never keys
them by id), whatever a future schema or database allows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.sample_system.audit.shopdata import ShopData, insert_order

Planter = Callable[[ShopData], str]


@dataclass(frozen=True)
class Plant:
    """A way to break `invariant`, described for the test's id."""

    invariant: str
    how: str
    plant: Planter


PLANTS: list[Plant] = []


def plant(invariant: str, how: str) -> Callable[[Planter], Planter]:
    """Register the decorated planter for `invariant`."""

    def register(planter: Planter) -> Planter:
        PLANTS.append(Plant(invariant, how, planter))
        return planter

    return register


def unconstrained(db: sqlite3.Connection, table: str) -> None:
    """Rebuild `table` with its rows but without its primary key and unique constraints."""
    db.execute(f"CREATE TABLE planted_copy AS SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE planted_copy RENAME TO {table}")


def copy_row(db: sqlite3.Connection, table: str, where: str, *args: Any, **changes: Any) -> None:
    """Insert a copy of the one row `where` selects, with `changes`."""
    (row,) = db.execute(f"SELECT * FROM {table} WHERE {where}", args).fetchall()
    values = {**dict(row), **changes}
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))


def move_stock(db: sqlite3.Connection, product_id: int, units: int) -> None:
    """Change a product's available units (to keep stock conserved around another break)."""
    db.execute(
        "UPDATE stock SET available = available + ? WHERE product_id = ?", (units, product_id)
    )


def set_state(db: sqlite3.Connection, table: str, order_id: str, state: str) -> None:
    """Set the state of the row of `order_id` in charges or reservations."""
    db.execute(f"UPDATE {table} SET state = ? WHERE order_id = ?", (state, order_id))


# --- orders ---------------------------------------------------------------------------------


@plant("order_id_unique", "a second row with the declined order's id")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        unconstrained(db, "orders")
        copy_row(db, "orders", "id = ?", d.declined, idempotency_key="another-key")
    return f"order {d.declined}"


@plant("order_one_per_idempotency_key", "a second order made with the declined order's key")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        unconstrained(db, "orders")
        copy_row(db, "orders", "id = ?", d.declined, id="twin", created_at=time.time())
    return "order twin"


@plant("order_settled", "an order left pending at step charge")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        insert_order(db, "stuck", "pending", "charge", [(1, 1)], reason="payment_outcome_unknown")
    return "order stuck"


@plant("order_step_matches_state", "the confirmed order put back at step confirm")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        db.execute("UPDATE orders SET step = 'confirm' WHERE id = ?", (d.confirmed,))
    return f"order {d.confirmed}"


@plant("order_total_matches_items", "a unit price of the confirmed order changed")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        db.execute(
            "UPDATE orders SET items = json_set(items, '$[0].unit_price_cents', 1) WHERE id = ?",
            (d.confirmed,),
        )
    return f"order {d.confirmed}"


# --- payments -------------------------------------------------------------------------------


@plant("charge_has_order", "a declined charge for an order that does not exist")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        db.execute(
            "INSERT INTO charges (order_id, amount_cents, card_token, state, created_at, "
            "updated_at) VALUES ('ghost', 500, 'tok_declined', 'declined', 0, 0)"
        )
    return "charge ghost"


@plant("charge_matches_order_total", "the declined charge one cent off its order's total")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        db.execute(
            "UPDATE charges SET amount_cents = amount_cents + 1 WHERE order_id = ?", (d.declined,)
        )
    return f"charge {d.declined}"


@plant("charge_settled", "the failed order's charge left processing")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        set_state(db, "charges", d.declined, "processing")
    return f"charge {d.declined}"


@plant("confirmed_order_has_one_captured_charge", "the confirmed order's charge deleted")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        db.execute("DELETE FROM charges WHERE order_id = ?", (d.confirmed,))
    return f"order {d.confirmed}"


@plant("confirmed_order_has_one_captured_charge", "the confirmed order's charge refunded")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        set_state(db, "charges", d.confirmed, "refunded")
    return f"order {d.confirmed}"


@plant("confirmed_order_has_one_captured_charge", "a second captured charge, same order")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        unconstrained(db, "charges")
        copy_row(db, "charges", "order_id = ?", d.confirmed)
    return f"order {d.confirmed}"


@plant("failed_order_has_no_captured_charge", "the declined order's charge captured")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        set_state(db, "charges", d.declined, "captured")
    return f"order {d.declined}"


@plant("failed_order_has_no_captured_charge", "the refund of the lost-reservation order undone")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        set_state(db, "charges", d.refunded, "captured")
    return f"order {d.refunded}"


@plant("failed_order_has_no_captured_charge", "a second declined charge, same order")
def _(d: ShopData) -> str:
    with d.db("payments") as db:
        unconstrained(db, "charges")
        copy_row(db, "charges", "order_id = ?", d.declined)
    return f"order {d.declined}"


# --- inventory ------------------------------------------------------------------------------


@plant("reservation_has_order", "a released tombstone for an order that does not exist")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        db.execute(
            "INSERT INTO reservations (order_id, state, created_at, updated_at) "
            "VALUES ('ghost', 'released', 0, 0)"
        )
    return "reservation ghost"


@plant("reservation_matches_order_items", "one more unit of product 1 committed than ordered")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        db.execute(
            "UPDATE reservation_items SET quantity = quantity + 1 "
            "WHERE order_id = ? AND product_id = 1",
            (d.confirmed,),
        )
        move_stock(db, 1, -1)
    return f"reservation {d.confirmed}"


@plant("reservation_settled", "the declined order's stock held again")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        set_state(db, "reservations", d.declined, "held")
        move_stock(db, 2, -1)
    return f"reservation {d.declined}"


@plant("confirmed_order_has_one_committed_reservation", "the confirmed order's stock released")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        set_state(db, "reservations", d.confirmed, "released")
        move_stock(db, 1, 2)
        move_stock(db, 3, 1)
    return f"order {d.confirmed}"


@plant("confirmed_order_has_one_committed_reservation", "the confirmed order's reservation gone")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        db.execute("DELETE FROM reservation_items WHERE order_id = ?", (d.confirmed,))
        db.execute("DELETE FROM reservations WHERE order_id = ?", (d.confirmed,))
        move_stock(db, 1, 2)
        move_stock(db, 3, 1)
    return f"order {d.confirmed}"


@plant("confirmed_order_has_one_committed_reservation", "a second committed reservation row")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        unconstrained(db, "reservations")
        copy_row(db, "reservations", "order_id = ?", d.confirmed)
    return f"order {d.confirmed}"


@plant("failed_order_has_no_committed_reservation", "the declined order's stock sold")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        set_state(db, "reservations", d.declined, "committed")
        move_stock(db, 2, -1)
    return f"order {d.declined}"


@plant("failed_order_has_no_committed_reservation", "a second released reservation row")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        unconstrained(db, "reservations")
        copy_row(db, "reservations", "order_id = ?", d.declined)
    return f"order {d.declined}"


@plant("stock_conserved", "one unit of product 6 gone")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        move_stock(db, 6, -1)
    return "product 6"


@plant("stock_conserved", "a second stock row for product 6")
def _(d: ShopData) -> str:
    with d.db("inventory") as db:
        unconstrained(db, "stock")
        copy_row(db, "stock", "product_id = 6")
    return "product 6"


# --- notifications --------------------------------------------------------------------------


@plant("notification_has_confirmed_order", "a notification for the declined order")
def _(d: ShopData) -> str:
    event_id = f"order-confirmed-{d.declined}"
    with d.db("notifications") as db:
        db.execute(
            "INSERT INTO notifications (event_id, order_id, client, message, created_at) "
            "VALUES (?, ?, 'alice', 'Order confirmed.', 0)",
            (event_id, d.declined),
        )
    return f"notification {event_id}"


@plant("notification_matches_order", "the confirmed order's notification sent to another client")
def _(d: ShopData) -> str:
    with d.db("notifications") as db:
        db.execute("UPDATE notifications SET client = 'mallory' WHERE order_id = ?", (d.confirmed,))
    return f"notification order-confirmed-{d.confirmed}"


@plant("notification_matches_order", "the confirmed order notified for another event")
def _(d: ShopData) -> str:
    with d.db("notifications") as db:
        db.execute(
            "UPDATE notifications SET event_id = 'order-shipped' WHERE order_id = ?",
            (d.confirmed,),
        )
    return "notification order-shipped"


@plant("confirmed_order_has_one_notification", "the confirmed order's notification lost")
def _(d: ShopData) -> str:
    with d.db("notifications") as db:
        db.execute("DELETE FROM notifications WHERE order_id = ?", (d.confirmed,))
    return f"order {d.confirmed}"


@plant("confirmed_order_has_one_notification", "the confirmed order notified twice")
def _(d: ShopData) -> str:
    with d.db("notifications") as db:
        unconstrained(db, "notifications")
        copy_row(db, "notifications", "order_id = ?", d.confirmed)
    return f"order {d.confirmed}"


# --- the outbox -----------------------------------------------------------------------------


@plant("event_has_confirmed_order", "a published confirmation event for the declined order")
def _(d: ShopData) -> str:
    event_id = f"order-confirmed-{d.declined}"
    payload = json.dumps({"event_id": event_id, "order_id": d.declined})
    with d.db("orders") as db:
        db.execute(
            "INSERT INTO outbox (event_id, subject, payload, created_at, published_at) "
            "VALUES (?, 'orders.confirmed', ?, 0, 0)",
            (event_id, payload),
        )
    return f"event {event_id}"


@plant("event_published", "the confirmed order's event never published")
def _(d: ShopData) -> str:
    event_id = f"order-confirmed-{d.confirmed}"
    with d.db("orders") as db:
        db.execute("UPDATE outbox SET published_at = NULL WHERE event_id = ?", (event_id,))
    return f"event {event_id}"


@plant("confirmed_order_has_one_event", "the confirmed order's event missing from the outbox")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        db.execute("DELETE FROM outbox WHERE event_id = ?", (f"order-confirmed-{d.confirmed}",))
    return f"order {d.confirmed}"


@plant("confirmed_order_has_one_event", "the confirmed order's event twice in the outbox")
def _(d: ShopData) -> str:
    with d.db("orders") as db:
        unconstrained(db, "outbox")
        copy_row(db, "outbox", "event_id = ?", f"order-confirmed-{d.confirmed}")
    return f"order {d.confirmed}"
