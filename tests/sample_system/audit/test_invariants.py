"""The invariants as pure functions: a clean snapshot passes, each planted break is named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sample_system.audit.invariants import Snapshot, check

ITEMS = [{"product_id": 1, "quantity": 2, "unit_price_cents": 500}]


def clean() -> Snapshot:
    return Snapshot(
        orders=[
            {"order_id": "ok", "state": "confirmed", "total_cents": 1000, "items": ITEMS},
            {"order_id": "no", "state": "failed", "total_cents": 500, "items": ITEMS[:1]},
            {"order_id": "wip", "state": "pending", "total_cents": 1000, "items": ITEMS},
        ],
        charges=[
            {"order_id": "ok", "state": "captured", "amount_cents": 1000},
            {"order_id": "no", "state": "refunded", "amount_cents": 500},
            {"order_id": "wip", "state": "captured", "amount_cents": 1000},
        ],
        reservations=[
            {"order_id": "ok", "state": "committed", "items": [{"product_id": 1, "quantity": 2}]},
            {"order_id": "no", "state": "released", "items": [{"product_id": 1, "quantity": 2}]},
            {"order_id": "wip", "state": "held", "items": [{"product_id": 1, "quantity": 2}]},
        ],
        stock=[{"product_id": 1, "initial": 10, "available": 6}],
        notifications=[{"order_id": "ok", "event_id": "e-ok"}],
    )


def planted(change: str) -> Snapshot:
    shot = copy.deepcopy(clean())
    by_id: dict[str, dict[str, Any]] = {c["order_id"]: c for c in shot.charges}
    if change == "confirmed order not charged":
        by_id["ok"]["state"] = "declined"
    elif change == "charged another amount":
        by_id["ok"]["amount_cents"] = 999
    elif change == "failed order charged":
        by_id["no"]["state"] = "captured"
    elif change == "charge without order":
        shot.charges.append({"order_id": "ghost", "state": "captured", "amount_cents": 1})
    elif change == "confirmed order not committed":
        shot.reservations[0]["state"] = "held"
    elif change == "reserved other items":
        shot.reservations[0]["items"] = [{"product_id": 1, "quantity": 1}]
        shot.stock[0]["available"] = 7
    elif change == "committed for a failed order":
        shot.reservations[1]["state"] = "committed"
        shot.stock[0]["available"] = 4
    elif change == "stock leaked":
        shot.stock[0]["available"] = 5
    elif change == "notification missing":
        shot.notifications = []
    elif change == "notification twice":
        shot.notifications.append({"order_id": "ok", "event_id": "e-ok-again"})
    elif change == "notification for a failed order":
        shot.notifications.append({"order_id": "no", "event_id": "e-no"})
    return shot


def test_a_clean_snapshot_has_no_violation():
    assert check(clean()) == []


@pytest.mark.parametrize(
    ("change", "invariant"),
    [
        ("confirmed order not charged", "confirmed_has_one_captured_charge"),
        ("charged another amount", "charge_matches_order_total"),
        ("failed order charged", "failed_has_no_captured_charge"),
        ("charge without order", "captured_charge_has_order"),
        ("confirmed order not committed", "confirmed_has_committed_reservation"),
        ("reserved other items", "reservation_matches_order"),
        ("committed for a failed order", "committed_reservation_has_confirmed_order"),
        ("stock leaked", "stock_conserved"),
        ("notification missing", "confirmed_has_one_notification"),
        ("notification twice", "confirmed_has_one_notification"),
        ("notification for a failed order", "notification_has_confirmed_order"),
    ],
)
def test_each_planted_break_is_named(change: str, invariant: str):
    violations = check(planted(change))
    assert [v.invariant for v in violations] == [invariant], violations
    assert violations[0].detail


def test_pending_orders_are_reported_not_judged():
    assert clean().pending() == ["wip"]
