"""A running shop holding one order in every state the audit must accept, and its files.

    with audited_shop(tmp_path) as data:
        with data.db("payments") as db:       # plant a break straight into the data ...
            db.execute("UPDATE charges SET state = 'captured' WHERE order_id = ?", ...)
        audit(data.targets)                   # ... the audit reads it back over HTTP
        data.restore()                        # every file as it was after the clean data set

The orders are made through the real services where the saga can make them (confirmed,
declined, out of stock); the one state checkout only reaches through a race (a reservation
lost after the charge: charge refunded, stock released) is made through inventory's and
payments' own APIs, and its order row written as the saga writes it. Orders' relay and
reconciler are slowed down to once an hour (the relay still runs when an order is confirmed)
so that they never repair a planted break before the audit reads it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sample_system.audit.collect import Targets, audit
from sample_system.common.seed import SEED_PRODUCTS
from tests.sample_system.servers import AUTH
from tests.sample_system.shop import Shop, running_shop

AUDITED = ("orders", "payments", "inventory", "notifications")
INITIAL_STOCK = 20
PRICES = {p.id: p.price_cents for p in SEED_PRODUCTS}
QUIET = {
    "ORDERS_RELAY_INTERVAL_S": "3600",
    "ORDERS_RECONCILE_INTERVAL_S": "3600",
    "ORDERS_RECONCILE_AFTER_S": "3600",
}


@dataclass
class ShopData:
    """The running shop, the ids of its orders by state, and a copy of its clean files."""

    shop: Shop
    confirmed: str = ""  # items (1, 2), (3, 1): captured, committed, notified, published
    declined: str = ""  # items (2, 1): charge declined, reservation released
    out_of_stock: str = ""  # items (4, 21): no charge, a released tombstone without lines
    refunded: str = ""  # items (5, 1): charge refunded, reservation released
    _clean: dict[str, sqlite3.Connection] = field(default_factory=dict)

    @property
    def targets(self) -> Targets:
        """Where the audit reads."""
        return Targets(*(self.shop.urls[s] for s in AUDITED))

    def urls(self) -> list[str]:
        """The audit's command line flags for this shop."""
        return [arg for name in AUDITED for arg in (f"--{name}", self.shop.urls[name])]

    def path(self, service: str) -> Path:
        """The SQLite file of `service`."""
        return self.shop.data_dir / f"{service}.sqlite3"

    @contextmanager
    def db(self, service: str) -> Iterator[sqlite3.Connection]:
        """One write transaction on `service`'s file, beside the running service."""
        connection = sqlite3.connect(self.path(service), isolation_level=None, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    def keep_clean(self) -> None:
        """Copy every audited file (SQLite's online backup) to restore it after each plant."""
        for service in AUDITED:
            copy = sqlite3.connect(":memory:", check_same_thread=False)
            with sqlite3.connect(self.path(service)) as source:
                source.backup(copy)
            self._clean[service] = copy

    def restore(self) -> None:
        """Put every audited file back as `keep_clean` found it, under the running services."""
        for service, copy in self._clean.items():
            target = sqlite3.connect(self.path(service), timeout=10)
            try:
                copy.backup(target)
            finally:
                target.close()


def _checkout(shop: Shop, lines: list[tuple[int, int]], card: str, key: str) -> httpx.Response:
    body = {"items": [{"product_id": p, "quantity": q} for p, q in lines], "card_token": card}
    headers = {"Idempotency-Key": key, "X-Client-Id": "alice", **AUTH}
    return httpx.post(shop.urls["orders"] + "/orders", json=body, headers=headers, timeout=10)


def _order_id(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    order_id: str = answer.json()["order"]["order_id"]
    return order_id


def _lost_reservation(data: ShopData) -> str:
    """A failed order whose reservation was lost after its charge, as the saga leaves it."""
    shop, order_id, product = data.shop, uuid.uuid4().hex, 5
    inventory, payments = shop.urls["inventory"], shop.urls["payments"]
    items = {"items": [{"product_id": product, "quantity": 1}]}
    with httpx.Client(headers=AUTH, timeout=10) as internal:
        assert internal.put(f"{inventory}/reservations/{order_id}", json=items).status_code == 201
        assert internal.post(f"{inventory}/reservations/{order_id}/release").status_code == 200
        charge = {"amount_cents": PRICES[product], "card_token": "tok_visa"}
        charged = internal.put(f"{payments}/charges/{order_id}", json=charge)
        assert charged.json()["state"] == "captured"
        assert internal.post(f"{payments}/charges/{order_id}/refund").json()["state"] == "refunded"
    with data.db("orders") as db:
        insert_order(
            db, order_id, "failed", "done", [(product, 1)], reason="reservation_lost", key="lost"
        )
    return order_id


def insert_order(
    db: sqlite3.Connection,
    order_id: str,
    state: str,
    step: str,
    lines: list[tuple[int, int]],
    *,
    reason: str = "",
    key: str | None = None,
) -> None:
    """An order row as orders writes it (priced from the seed catalog)."""
    items = [{"product_id": p, "quantity": q, "unit_price_cents": PRICES[p]} for p, q in lines]
    now = time.time()
    db.execute(
        "INSERT INTO orders (id, client, idempotency_key, request_hash, state, step, reason, "
        "items, total_cents, card_token, created_at, updated_at) "
        "VALUES (?, 'alice', ?, 'planted', ?, ?, ?, ?, ?, 'tok_visa', ?, ?)",
        (order_id, key or order_id, state, step, reason, json.dumps(items),
         sum(i["quantity"] * i["unit_price_cents"] for i in items), now, now),
    )  # fmt: skip


def _wait_connected(shop: Shop) -> None:
    deadline = time.monotonic() + 15
    while not httpx.get(shop.urls["orders"] + "/admin/outbox", headers=AUTH).json()[
        "nats_connected"
    ]:
        assert time.monotonic() < deadline, "orders did not connect to NATS within 15 s"
        time.sleep(0.05)


def make_clean_data(data: ShopData) -> None:
    """One order in each state a quiet shop may hold, then wait until the audit is clean."""
    shop = data.shop
    _wait_connected(shop)
    data.confirmed = _order_id(_checkout(shop, [(1, 2), (3, 1)], "tok_visa", "k-confirmed"), 201)
    replay = _checkout(shop, [(1, 2), (3, 1)], "tok_visa", "k-confirmed")
    assert _order_id(replay, 200) == data.confirmed
    data.declined = _order_id(_checkout(shop, [(2, 1)], "tok_declined", "k-declined"), 402)
    sold_out = _checkout(shop, [(4, INITIAL_STOCK + 1)], "tok_visa", "k-out-of-stock")
    data.out_of_stock = _order_id(sold_out, 409)
    data.refunded = _lost_reservation(data)
    report = audit(data.targets, wait=10, poll=0.05)
    assert report.ok, report.as_dict()
    assert report.counts["confirmed"] == 1 and report.counts["failed"] == 3, report.counts


@contextmanager
def audited_shop(tmp_path: Path) -> Iterator[ShopData]:
    """Orders, payments, inventory, notifications (and catalog, NATS) with the clean data."""
    settings: dict[str, dict[str, Any]] = {
        "orders": QUIET,
        "inventory": {"INVENTORY_INITIAL_STOCK": str(INITIAL_STOCK)},
    }
    with running_shop(tmp_path, ("catalog", *AUDITED), settings=settings) as shop:
        data = ShopData(shop)
        make_clean_data(data)
        data.keep_clean()
        yield data
