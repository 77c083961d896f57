"""The invariants as pure functions: what a snapshot taken under load may and may not show.

Planted violations on the running shop are in test_planted.py; this covers the timing rules
that a quiet shop cannot show: orders that move while the audit reads, and the grace period.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from sample_system.audit.invariants import INVARIANTS, check
from sample_system.audit.snapshot import (
    ChargeRow,
    EventRow,
    ItemRow,
    Line,
    NotificationRow,
    OrderRow,
    ReservationRow,
    Snapshot,
    StockRow,
)

NOW = 1_000_000.0


def order(order_id: str, state: str, *, at: float = NOW - 60) -> OrderRow:
    step = "charge" if state == "pending" else "done"
    return OrderRow(order_id, state, step, "", "alice", f"key-{order_id}",
                    (Line(1, 2, 500),), 1000, at, at)  # fmt: skip


def confirmed_shop(order_id: str = "ok", *, at: float = NOW - 60) -> Snapshot:
    """One confirmed order with everything it must have, read the same twice."""
    orders = [order(order_id, "confirmed", at=at)]
    return Snapshot(
        orders_first=orders,
        events=[EventRow(f"order-confirmed-{order_id}", "orders.confirmed", order_id, True)],
        charges=[ChargeRow(order_id, "captured", 1000)],
        reservations=[ReservationRow(order_id, "committed")],
        items=[ItemRow(order_id, 1, 2)],
        stock=[StockRow(1, 10, 8)],
        notifications=[NotificationRow(f"order-confirmed-{order_id}", order_id, "alice")],
        orders=orders,
    )


def found(snapshot: Snapshot, grace: float = 0.0) -> list[tuple[str, str]]:
    return [(v.invariant, str(v.entity)) for v in check(snapshot, now=NOW, grace=grace)]


def test_a_consistent_snapshot_passes():
    assert found(confirmed_shop()) == []


def test_an_order_confirmed_while_the_audit_read_is_not_judged_yet():
    # First read: pending (charge processing); last read: confirmed. The charge was read in
    # between, so "processing" is no evidence against the confirmed order.
    shot = confirmed_shop()
    shot = replace(
        shot,
        orders_first=[order("ok", "pending")],
        charges=[ChargeRow("ok", "processing", 1000)],
        notifications=[],
    )
    assert found(shot) == []


def test_rows_about_an_order_created_during_the_read_are_not_orphans():
    shot = replace(confirmed_shop(), orders_first=[])
    assert found(shot) == []


def test_rows_about_an_order_in_neither_read_are_orphans():
    shot = replace(confirmed_shop(), orders_first=[], orders=[])
    assert found(shot) == [
        ("charge_has_order", "charge ok"),
        ("reservation_has_order", "reservation ok"),
        ("notification_has_confirmed_order", "notification order-confirmed-ok"),
        ("event_has_confirmed_order", "event order-confirmed-ok"),
    ]


def test_a_pending_order_is_a_violation_when_quiet_and_in_flight_within_the_grace():
    fresh, stale = order("fresh", "pending", at=NOW - 5), order("stale", "pending", at=NOW - 50)
    shot = Snapshot([fresh, stale], [], [], [], [], [], [], [fresh, stale])
    assert found(shot) == [("order_settled", "order fresh"), ("order_settled", "order stale")]
    assert found(shot, grace=30) == [("order_settled", "order stale")]


def test_a_notification_may_lag_its_confirmation_only_within_the_grace():
    late = replace(confirmed_shop(at=NOW - 5), notifications=[])
    assert found(late) == [("confirmed_order_has_one_notification", "order ok")]
    assert found(late, grace=30) == []
    twice = confirmed_shop(at=NOW - 5)
    twice = replace(twice, notifications=twice.notifications * 2)
    assert found(twice, grace=30) == [("confirmed_order_has_one_notification", "order ok")]


def test_an_event_may_wait_for_publication_only_within_the_grace():
    shot = confirmed_shop(at=NOW - 5)
    waiting = replace(shot, events=[replace(shot.events[0], published=False)])
    assert found(waiting) == [("event_published", "event order-confirmed-ok")]
    assert found(waiting, grace=30) == []


def test_lines_of_a_product_without_stock_break_conservation():
    shot = confirmed_shop()
    shot = replace(shot, stock=[])
    assert found(shot) == [("stock_conserved", "product 1")]


def test_an_event_that_names_no_order_is_an_orphan():
    shot = confirmed_shop()
    stray = EventRow("e-1", "orders.confirmed", None, True)
    assert found(replace(shot, events=[*shot.events, stray])) == [
        ("event_has_confirmed_order", "event e-1")
    ]


def test_the_docs_list_every_invariant_as_the_registry_states_it():
    docs = (Path(__file__).parents[3] / "docs" / "sample-system.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \| ([a-z]+) \| (.+) \|$", docs, re.MULTILINE)
    assert rows == [(rule.id, rule.entity, rule.statement) for rule in INVARIANTS]
