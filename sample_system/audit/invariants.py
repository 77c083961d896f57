"""The shop's invariants, checked over what the services report (pure functions over data).

- every confirmed order has exactly one captured charge, of its total, and one committed
  reservation, of its items;
- no failed order has a captured charge (refunded is fine), and no committed reservation or
  captured charge belongs to an order that is neither confirmed nor still pending;
- stock is conserved: for each product, initial = available + held + committed;
- every confirmed order has exactly one notification, and only confirmed orders have one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One broken invariant, about one order or product."""

    invariant: str
    subject: str  # "order <id>" or "product <id>"
    detail: str

    def as_dict(self) -> dict[str, str]:
        """The violation as JSON-ready data."""
        return asdict(self)


@dataclass
class Snapshot:
    """What the audit read from each service's admin API."""

    orders: list[dict[str, Any]]
    charges: list[dict[str, Any]]
    reservations: list[dict[str, Any]]
    stock: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    def pending(self) -> list[str]:
        """Ids of orders whose checkout has not finished yet."""
        return [o["order_id"] for o in self.orders if o["state"] == "pending"]


def _items(items: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return sorted((int(i["product_id"]), int(i["quantity"])) for i in items)


def check(snapshot: Snapshot) -> list[Violation]:
    """Every violation in the snapshot."""
    return [
        *_orders_against_payments(snapshot),
        *_orders_against_inventory(snapshot),
        *_stock_conserved(snapshot),
        *_notifications(snapshot),
    ]


def _orders_against_payments(snapshot: Snapshot) -> list[Violation]:
    found: list[Violation] = []
    orders = {o["order_id"]: o for o in snapshot.orders}
    charges = {c["order_id"]: c for c in snapshot.charges}
    for order_id, order in orders.items():
        charge = charges.get(order_id)
        subject = f"order {order_id}"
        if order["state"] == "confirmed":
            if charge is None or charge["state"] != "captured":
                state = "no charge" if charge is None else f"a {charge['state']} charge"
                found.append(Violation("confirmed_has_one_captured_charge", subject, state))
            elif charge["amount_cents"] != order["total_cents"]:
                detail = f"charged {charge['amount_cents']}, total {order['total_cents']}"
                found.append(Violation("charge_matches_order_total", subject, detail))
        elif order["state"] == "failed" and charge is not None and charge["state"] == "captured":
            found.append(
                Violation("failed_has_no_captured_charge", subject, "captured, not refunded")
            )
    for order_id, charge in charges.items():
        if charge["state"] == "captured" and order_id not in orders:
            found.append(
                Violation("captured_charge_has_order", f"order {order_id}", "no such order")
            )
    return found


def _orders_against_inventory(snapshot: Snapshot) -> list[Violation]:
    found: list[Violation] = []
    orders = {o["order_id"]: o for o in snapshot.orders}
    reservations = {r["order_id"]: r for r in snapshot.reservations}
    for order_id, order in orders.items():
        if order["state"] != "confirmed":
            continue
        reservation = reservations.get(order_id)
        subject = f"order {order_id}"
        if reservation is None or reservation["state"] != "committed":
            state = "none" if reservation is None else reservation["state"]
            found.append(
                Violation("confirmed_has_committed_reservation", subject, f"reservation: {state}")
            )
        elif _items(reservation["items"]) != _items(order["items"]):
            detail = f"reserved {_items(reservation['items'])}, ordered {_items(order['items'])}"
            found.append(Violation("reservation_matches_order", subject, detail))
    for order_id, reservation in reservations.items():
        owner = orders.get(order_id)
        if reservation["state"] == "committed" and (owner is None or owner["state"] == "failed"):
            state = "no such order" if owner is None else "the order failed"
            found.append(
                Violation("committed_reservation_has_confirmed_order", f"order {order_id}", state)
            )
    return found


def _stock_conserved(snapshot: Snapshot) -> list[Violation]:
    held: Counter[int] = Counter()
    committed: Counter[int] = Counter()
    for reservation in snapshot.reservations:
        bucket = {"held": held, "committed": committed}.get(reservation["state"])
        if bucket is not None:
            for product_id, quantity in _items(reservation["items"]):
                bucket[product_id] += quantity
    found: list[Violation] = []
    for row in snapshot.stock:
        product_id = int(row["product_id"])
        accounted = row["available"] + held[product_id] + committed[product_id]
        if accounted != row["initial"]:
            detail = (
                f"initial {row['initial']} != available {row['available']} + held "
                f"{held[product_id]} + committed {committed[product_id]}"
            )
            found.append(Violation("stock_conserved", f"product {product_id}", detail))
    return found


def _notifications(snapshot: Snapshot) -> list[Violation]:
    per_order: defaultdict[str, int] = defaultdict(int)
    for notification in snapshot.notifications:
        per_order[notification["order_id"]] += 1
    states = {o["order_id"]: o["state"] for o in snapshot.orders}
    found: list[Violation] = []
    for order_id, state in states.items():
        count = per_order.get(order_id, 0)
        if state == "confirmed" and count != 1:
            found.append(
                Violation("confirmed_has_one_notification", f"order {order_id}", f"{count} sent")
            )
    for order_id, count in per_order.items():
        if states.get(order_id) != "confirmed":
            state = states.get(order_id, "unknown")
            detail = f"{count} sent for a {state} order"
            found.append(Violation("notification_has_confirmed_order", f"order {order_id}", detail))
    return found
