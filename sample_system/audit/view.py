"""A snapshot joined by order id: every table grouped into lists per key, never one row per key.

`View.decided` are the orders the cross-service invariants judge: confirmed or failed in
both reads of orders, so what payments, inventory and the outbox hold for them was final
before the audit read it. Orders still pending, or decided while the audit was reading, are
in flight; the invariants that judge them (pending too long, an event not yet delivered)
leave alone what is younger than `grace` seconds, so an audit under load reports only what
persisted (with `grace` 0, the default, the system is taken to be quiet).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from sample_system.audit.snapshot import (
    ChargeRow,
    EventRow,
    ItemRow,
    NotificationRow,
    OrderRow,
    ReservationRow,
    Snapshot,
    StockRow,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

FINAL_STATES = frozenset({"confirmed", "failed"})


def grouped(rows: Iterable[V], key: Callable[[V], K]) -> dict[K, list[V]]:
    """Rows by key, every row kept (a second row for a key is a second list element)."""
    groups: defaultdict[K, list[V]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(groups)


class View:
    """The snapshot's rows grouped per order (and per product), with the audit's clock."""

    def __init__(self, snapshot: Snapshot, *, now: float, grace: float = 0.0) -> None:
        self.snapshot = snapshot
        self.now = now
        self.grace = grace
        self.orders: dict[str, list[OrderRow]] = grouped(snapshot.orders, lambda o: o.order_id)
        self.charges: dict[str, list[ChargeRow]] = grouped(snapshot.charges, lambda c: c.order_id)
        self.reservations: dict[str, list[ReservationRow]] = grouped(
            snapshot.reservations, lambda r: r.order_id
        )
        self.items: dict[str, list[ItemRow]] = grouped(snapshot.items, lambda i: i.order_id)
        self.stock: dict[int, list[StockRow]] = grouped(snapshot.stock, lambda s: s.product_id)
        self.notifications: dict[str, list[NotificationRow]] = grouped(
            snapshot.notifications, lambda n: n.order_id
        )
        self.events: dict[str | None, list[EventRow]] = grouped(
            snapshot.events, lambda e: e.order_id
        )
        first_states = grouped(snapshot.orders_first, lambda o: o.order_id)
        self.decided: list[OrderRow] = [
            order
            for order in self.latest()
            if order.state in FINAL_STATES
            and {o.state for o in first_states.get(order.order_id, [])} == {order.state}
        ]

    def latest(self) -> list[OrderRow]:
        """Each order once, as the last read found it (its first row when stored twice)."""
        return [rows[0] for rows in self.orders.values()]

    def order(self, order_id: str | None) -> OrderRow | None:
        """The order with this id in the last read, or None."""
        rows = self.orders.get(order_id) if order_id is not None else None
        return rows[0] if rows else None

    def decided_in(self, state: str) -> list[OrderRow]:
        """The decided orders in `state` ("confirmed" or "failed")."""
        return [order for order in self.decided if order.state == state]

    def young(self, since: float) -> bool:
        """Whether something that happened at `since` is still within the grace period."""
        return self.grace > 0 and self.now - since < self.grace

    def age(self, since: float) -> float:
        """Seconds from `since` to the audit's clock."""
        return self.now - since
