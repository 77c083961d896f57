"""The shop's invariants, one registered check each (pure functions over a `View`).

    violations = check(snapshot, now=time.time())          # [] when every invariant holds
    [i.id for i in INVARIANTS]                             # the stable ids, in docs order

Each invariant has a stable id, the kind of entity its violations name, and the statement
docs/sample-system.md lists. A check yields `(entity id, detail)` per violation. Counts are
taken over every row (`view.py` keeps rows in lists), so "exactly one" means one row, and a
second row for the same id is a violation, not an overwrite. The checks are written so that
one planted break violates exactly one invariant (tests/sample_system/audit proves it for each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sample_system.audit.snapshot import OrderRow, Snapshot
from sample_system.audit.view import View, grouped

Found = Iterator[tuple[str, str]]  # (entity id, detail)
Check = Callable[[View], Found]


@dataclass(frozen=True)
class Entity:
    """What a violation is about: an order, a charge, a product ..."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class Violation:
    """One broken invariant about one entity."""

    invariant: str
    entity: Entity
    detail: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: {"invariant", "entity": {"kind", "id"}, "detail"}."""
        entity = {"kind": self.entity.kind, "id": self.entity.id}
        return {"invariant": self.invariant, "entity": entity, "detail": self.detail}


@dataclass(frozen=True)
class Invariant:
    """A rule the shop's data must obey, and its check."""

    id: str
    entity: str
    statement: str
    check: Check


INVARIANTS: list[Invariant] = []


def invariant(id: str, entity: str, statement: str) -> Callable[[Check], Check]:
    """Register the decorated check as invariant `id` about entities of kind `entity`."""

    def register(check: Check) -> Check:
        INVARIANTS.append(Invariant(id, entity, " ".join(statement.split()), check))
        return check

    return register


def check(snapshot: Snapshot, *, now: float, grace: float = 0.0) -> list[Violation]:
    """Every violation in the snapshot, invariant by invariant."""
    view = View(snapshot, now=now, grace=grace)
    return [
        Violation(rule.id, Entity(rule.entity, entity_id), detail)
        for rule in INVARIANTS
        for entity_id, detail in rule.check(view)
    ]


class _Stated(Protocol):
    @property
    def state(self) -> str: ...


S = TypeVar("S", bound=_Stated)


def _states(rows: Iterable[_Stated]) -> list[str]:
    return sorted(row.state for row in rows)


def _exactly_one(
    orders: list[OrderRow], rows: Mapping[str, list[S]], noun: str, state: str
) -> Found:
    """Each order has exactly one of `rows` (its `noun`), in `state`."""
    for order in orders:
        states = _states(rows.get(order.order_id, []))
        if states != [state]:
            yield order.order_id, f"{noun}: {states or 'none'}"


def _never(orders: list[OrderRow], rows: Mapping[str, list[S]], noun: str, state: str) -> Found:
    """Each order has at most one of `rows` (its `noun`), and not in `state`."""
    for order in orders:
        states = _states(rows.get(order.order_id, []))
        if len(states) > 1 or state in states:
            yield order.order_id, f"{noun}: {states} ({order.reason})"


def _orphans(view: View, rows: Mapping[str, list[S]]) -> Found:
    """Keys of `rows` that are no order's id."""
    for order_id, owned in rows.items():
        if view.order(order_id) is None:
            yield order_id, f"{', '.join(_states(owned))}, and no such order"


def _left(view: View, rows: Mapping[str, list[S]], state: str) -> Found:
    """Rows still in `state`, an in-flight state, though their order is decided."""
    for order in view.decided:
        for row in rows.get(order.order_id, []):
            if row.state == state:
                yield order.order_id, f"{state}, and the order is {order.state}"


# --- orders ---------------------------------------------------------------------------------


@invariant("order_id_unique", "order", "Each order id is stored exactly once.")
def _order_id_unique(view: View) -> Found:
    for order_id, rows in view.orders.items():
        if len(rows) != 1:
            yield order_id, f"{len(rows)} rows with this id"


@invariant(
    "order_one_per_idempotency_key",
    "order",
    "Each client's Idempotency-Key made exactly one order (a repeated checkout returns it).",
)
def _order_one_per_key(view: View) -> Found:
    for (client, key), orders in grouped(
        view.latest(), lambda o: (o.client, o.idempotency_key)
    ).items():
        first, *others = sorted(orders, key=lambda o: o.created_at)
        for order in others:
            yield (
                order.order_id,
                (
                    f"client {client!r} already made order {first.order_id} with "
                    f"Idempotency-Key {key!r}"
                ),
            )


@invariant(
    "order_settled",
    "order",
    "Once the system is quiet no order is pending: checkout or the reconciler confirmed or "
    "failed each one.",
)
def _order_settled(view: View) -> Found:
    for order in view.latest():
        if order.state == "pending" and not view.young(order.created_at):
            detail = f"pending at step {order.step} for {view.age(order.created_at):.1f} s"
            yield order.order_id, detail + (f" ({order.reason})" if order.reason else "")


@invariant(
    "order_step_matches_state",
    "order",
    "A confirmed or failed order is at step `done`; a pending order is not.",
)
def _order_step(view: View) -> Found:
    for order in view.latest():
        if (order.state == "pending") == (order.step == "done"):
            yield order.order_id, f"{order.state} at step {order.step}"


@invariant(
    "order_total_matches_items",
    "order",
    "An order's total is the sum of quantity times unit price over its lines.",
)
def _order_total(view: View) -> Found:
    for order in view.latest():
        total = sum(line.quantity * line.unit_price_cents for line in order.items)
        if total != order.total_cents:
            yield order.order_id, f"total {order.total_cents}, lines sum to {total}"


# --- payments -------------------------------------------------------------------------------


@invariant("charge_has_order", "charge", "Every charge is for an existing order.")
def _charge_has_order(view: View) -> Found:
    yield from _orphans(view, view.charges)


@invariant(
    "charge_matches_order_total",
    "charge",
    "Every charge, whatever its state, is of its order's total.",
)
def _charge_amount(view: View) -> Found:
    for charge in view.snapshot.charges:
        order = view.order(charge.order_id)
        if order is not None and charge.amount_cents != order.total_cents:
            yield (
                charge.order_id,
                f"{charge.state} charge of {charge.amount_cents}, order total {order.total_cents}",
            )


@invariant(
    "charge_settled",
    "charge",
    "The charge of a confirmed or failed order is not processing: its outcome was recorded.",
)
def _charge_settled(view: View) -> Found:
    yield from _left(view, view.charges, "processing")


@invariant(
    "confirmed_order_has_one_captured_charge",
    "order",
    "A confirmed order has exactly one charge, and it is captured.",
)
def _confirmed_charge(view: View) -> Found:
    yield from _exactly_one(view.decided_in("confirmed"), view.charges, "charges", "captured")


@invariant(
    "failed_order_has_no_captured_charge",
    "order",
    "A failed order has at most one charge, and it is not captured (declined or refunded).",
)
def _failed_charge(view: View) -> Found:
    yield from _never(view.decided_in("failed"), view.charges, "charges", "captured")


# --- inventory ------------------------------------------------------------------------------


@invariant("reservation_has_order", "reservation", "Every reservation is for an existing order.")
def _reservation_has_order(view: View) -> Found:
    yield from _orphans(view, view.reservations)


@invariant(
    "reservation_matches_order_items",
    "reservation",
    "A reservation holds exactly its order's lines (product and quantity); only a released "
    "tombstone, left by releasing an order that was never reserved, holds none.",
)
def _reservation_items(view: View) -> Found:
    for order_id, reservations in view.reservations.items():
        order = view.order(order_id)
        if order is None:
            continue
        held = sorted((i.product_id, i.quantity) for i in view.items.get(order_id, []))
        ordered = sorted((line.product_id, line.quantity) for line in order.items)
        tombstone = not held and set(_states(reservations)) == {"released"}
        if held != ordered and not tombstone:
            yield order_id, f"holds {held}, the order has {ordered}"


@invariant(
    "reservation_settled",
    "reservation",
    "The reservation of a confirmed or failed order is not held: it was committed or released.",
)
def _reservation_settled(view: View) -> Found:
    yield from _left(view, view.reservations, "held")


@invariant(
    "confirmed_order_has_one_committed_reservation",
    "order",
    "A confirmed order has exactly one reservation, and it is committed.",
)
def _confirmed_reservation(view: View) -> Found:
    yield from _exactly_one(
        view.decided_in("confirmed"), view.reservations, "reservations", "committed"
    )


@invariant(
    "failed_order_has_no_committed_reservation",
    "order",
    "A failed order has at most one reservation, and it is not committed (released).",
)
def _failed_reservation(view: View) -> Found:
    yield from _never(view.decided_in("failed"), view.reservations, "reservations", "committed")


@invariant(
    "stock_conserved",
    "product",
    "Every product has exactly one stock row, and its units are conserved: "
    "initial = available + held + committed.",
)
def _stock_conserved(view: View) -> Found:
    taken: dict[int, dict[str, int]] = {}
    for order_id, items in view.items.items():
        reservations = view.reservations.get(order_id)
        state = reservations[0].state if reservations else "no reservation"
        for item in items:
            bucket = taken.setdefault(item.product_id, {"held": 0, "committed": 0})
            if state in bucket:
                bucket[state] += item.quantity
    for product_id in sorted({*view.stock, *taken}):
        rows = view.stock.get(product_id, [])
        if len(rows) != 1:
            yield str(product_id), f"{len(rows)} stock rows"
            continue
        row, used = rows[0], taken.get(product_id, {"held": 0, "committed": 0})
        if row.initial != row.available + used["held"] + used["committed"]:
            yield (
                str(product_id),
                (
                    f"initial {row.initial} != available {row.available} + held {used['held']} "
                    f"+ committed {used['committed']}"
                ),
            )


# --- notifications --------------------------------------------------------------------------


@invariant(
    "notification_has_confirmed_order",
    "notification",
    "Every notification is about a confirmed order.",
)
def _notification_order(view: View) -> Found:
    for notification in view.snapshot.notifications:
        order = view.order(notification.order_id)
        if order is None or order.state != "confirmed":
            state = "no such order" if order is None else f"the order is {order.state}"
            yield notification.event_id, f"for order {notification.order_id}: {state}"


@invariant(
    "notification_matches_order",
    "notification",
    "A notification carries its order's confirmation event (`order-confirmed-<order id>`) "
    "and goes to the order's client.",
)
def _notification_matches(view: View) -> Found:
    for notification in view.snapshot.notifications:
        order = view.order(notification.order_id)
        if order is None or order.state != "confirmed":
            continue
        if notification.event_id != f"order-confirmed-{order.order_id}":
            yield notification.event_id, f"not the confirmation of order {order.order_id}"
        elif notification.client != order.client:
            yield (
                notification.event_id,
                (f"sent to client {notification.client!r}, the order is {order.client!r}'s"),
            )


@invariant(
    "confirmed_order_has_one_notification",
    "order",
    "A confirmed order has exactly one notification (once its event had time to travel).",
)
def _confirmed_notification(view: View) -> Found:
    for order in view.decided_in("confirmed"):
        count = len(view.notifications.get(order.order_id, []))
        if count != 1 and not (count == 0 and view.young(order.updated_at)):
            yield order.order_id, f"{count} notifications"


# --- the outbox (orders' events) ------------------------------------------------------------


@invariant(
    "event_has_confirmed_order",
    "event",
    "Every event in orders' outbox is about a confirmed order.",
)
def _event_order(view: View) -> Found:
    for event in view.snapshot.events:
        order = view.order(event.order_id)
        if order is None or order.state != "confirmed":
            state = "no such order" if order is None else f"the order is {order.state}"
            yield event.event_id, f"{event.subject} for order {event.order_id}: {state}"


@invariant(
    "event_published",
    "event",
    "Once the system is quiet every outbox event is published (JetStream acknowledged it).",
)
def _event_published(view: View) -> Found:
    for order in view.decided_in("confirmed"):
        for event in view.events.get(order.order_id, []):
            if not event.published and not view.young(order.updated_at):
                age = view.age(order.updated_at)
                yield event.event_id, f"unpublished {age:.1f} s after the confirmation"


@invariant(
    "confirmed_order_has_one_event",
    "order",
    "A confirmed order has exactly one outbox event, written with its confirmation.",
)
def _confirmed_event(view: View) -> Found:
    for order in view.decided_in("confirmed"):
        count = len(view.events.get(order.order_id, []))
        if count != 1:
            yield order.order_id, f"{count} events"
