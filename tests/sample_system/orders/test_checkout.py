"""orders' checkout against real catalog, inventory, payments and NATS (in threads)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.runtime.telemetry import parse_reading
from sample_system.audit.collect import Targets, audit
from tests.sample_system.servers import AUTH
from tests.sample_system.shop import Shop, dead_url, running_shop

CORE = ("catalog", "inventory", "payments", "orders", "notifications")


def checkout(
    shop: Shop, body: dict[str, Any], key: str | None = None, client: str = "alice"
) -> httpx.Response:
    headers = {"Idempotency-Key": key or uuid.uuid4().hex, "X-Client-Id": client, **AUTH}
    return httpx.post(shop.urls["orders"] + "/orders", json=body, headers=headers, timeout=10)


def cart(*lines: tuple[int, int], card: str = "tok_visa") -> dict[str, Any]:
    return {
        "items": [{"product_id": p, "quantity": q} for p, q in lines],
        "card_token": card,
    }


def rows(shop: Shop, service: str, path: str, key: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = httpx.get(
        shop.urls[service] + path, timeout=10, headers=AUTH
    ).json()[key]
    return rows


def available(shop: Shop, product_id: int) -> int:
    return int(
        httpx.get(f"{shop.urls['inventory']}/stock/{product_id}", headers=AUTH).json()["available"]
    )


def assert_audit_clean(shop: Shop, wait: float = 10.0) -> None:
    targets = Targets(*(shop.urls[s] for s in ("orders", "payments", "inventory", "notifications")))
    report = audit(targets, wait=wait, poll=0.05)
    assert report.ok, report.as_dict()
    assert report.pending_orders == []


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with running_shop(
        tmp_path, CORE, settings={"inventory": {"INVENTORY_INITIAL_STOCK": "5"}}
    ) as s:
        yield s


def test_checkout_confirms_charges_commits_and_notifies(shop: Shop):
    answer = checkout(shop, cart((1, 2), (3, 1)))
    assert answer.status_code == 201, answer.text
    order = answer.json()["order"]
    assert order["state"] == "confirmed"
    assert order["total_cents"] == 2 * 1999 + 2499
    (charge,) = rows(shop, "payments", "/admin/charges", "charges")
    assert (charge["order_id"], charge["state"]) == (order["order_id"], "captured")
    assert available(shop, 1) == 3
    assert_audit_clean(shop)


def test_a_repeated_key_makes_one_order_and_one_charge(shop: Shop):
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: checkout(shop, cart((2, 1)), key), range(6)))
    assert {a.status_code for a in answers} <= {200, 201, 202}
    assert len({a.json()["order"]["order_id"] for a in answers}) == 1
    replay = checkout(shop, cart((2, 1)), key)
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (200, "true")
    assert len(rows(shop, "orders", "/admin/orders", "orders")) == 1
    assert len(rows(shop, "payments", "/admin/charges", "charges")) == 1
    assert_audit_clean(shop)


def test_a_key_reused_for_another_cart_is_refused(shop: Shop):
    key = uuid.uuid4().hex
    checkout(shop, cart((2, 1)), key)
    answer = checkout(shop, cart((2, 2)), key)
    assert answer.status_code == 409
    assert answer.json()["error"] == "idempotency_key_reused"


def test_keys_are_per_client(shop: Shop):
    key = uuid.uuid4().hex
    first = checkout(shop, cart((2, 1)), key, client="alice").json()["order"]["order_id"]
    second = checkout(shop, cart((2, 1)), key, client="bob").json()["order"]["order_id"]
    assert first != second
    lookup = httpx.get(
        f"{shop.urls['orders']}/orders/{first}", headers={"X-Client-Id": "bob", **AUTH}
    )
    assert lookup.status_code == 404


def test_a_declined_card_fails_the_order_and_gives_the_stock_back(shop: Shop):
    answer = checkout(shop, cart((4, 2), card="tok_declined"))
    assert answer.status_code == 402
    assert answer.json()["order"]["state"] == "failed"
    assert available(shop, 4) == 5
    assert_audit_clean(shop)


def test_out_of_stock_is_a_409_and_charges_nothing(shop: Shop):
    answer = checkout(shop, cart((5, 6)))
    assert answer.status_code == 409
    assert answer.json()["error"] == "out_of_stock"
    assert rows(shop, "payments", "/admin/charges", "charges") == []
    assert_audit_clean(shop)


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        (cart((1, 1)), {}, "header.Idempotency-Key"),
        (cart((1, 1)), {"Idempotency-Key": "has space"}, "header.Idempotency-Key"),
        ({"items": []}, {"Idempotency-Key": "k1"}, "body.items"),
        (
            {"items": [{"product_id": 1, "quantity": -1}]},
            {"Idempotency-Key": "k2"},
            "body.items.0.quantity",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(shop: Shop, body, headers, field):
    answer = httpx.post(shop.urls["orders"] + "/orders", json=body, headers={**headers, **AUTH})
    assert answer.status_code == 422, answer.text
    assert field in [p["field"] for p in answer.json()["problems"]]
    assert rows(shop, "orders", "/admin/orders", "orders") == []


def test_an_unknown_product_is_a_404_and_no_order(shop: Shop):
    answer = checkout(shop, cart((1, 1), (999, 1)))
    assert answer.status_code == 404, answer.text
    assert (answer.json()["error"], answer.json()["problems"][0]["field"]) == (
        "product_not_found",
        "body.items",
    )
    assert rows(shop, "orders", "/admin/orders", "orders") == []


def test_a_product_on_two_lines_is_bought_once_with_the_sum(shop: Shop):
    answer = checkout(shop, cart((2, 1), (2, 2)))
    assert answer.status_code == 201, answer.text
    assert answer.json()["order"]["items"] == [
        {"product_id": 2, "quantity": 3, "unit_price_cents": 1299}
    ]
    assert available(shop, 2) == 2
    assert_audit_clean(shop)


def test_payments_down_fails_fast_with_a_clear_503_and_nothing_charged(tmp_path: Path):
    with running_shop(tmp_path, CORE, urls={"payments": dead_url()}) as shop:
        answer = checkout(shop, cart((1, 1)))
        assert answer.status_code == 503
        body = answer.json()
        assert (body["error"], body["dependency"]) == ("dependency_unavailable", "payments")
        assert body["order"]["state"] == "failed"
        assert available(shop, 1) == 1000


def test_an_unknown_payment_outcome_stays_pending_until_the_reconciler_asks(tmp_path: Path):
    settings = {
        "payments": {"PROCESSOR_LATENCY_MS": "400"},
        "orders": {"PAYMENTS_TIMEOUT_S": "0.1", "PAYMENTS_ATTEMPTS": "1"},
    }
    with running_shop(tmp_path, CORE, settings=settings) as shop:
        answer = checkout(shop, cart((1, 1)))
        assert answer.status_code == 202, answer.text
        order = answer.json()["order"]
        assert (order["state"], order["reason"]) == ("pending", "payment_outcome_unknown")
        deadline = time.monotonic() + 10
        while rows(shop, "payments", "/admin/charges", "charges")[0]["state"] != "captured":
            assert time.monotonic() < deadline, "payments never finished the charge"
            time.sleep(0.05)
        # The reconciler's periodic pass reports what it still owes (the backlog convention).
        while backlog(shop) != 1:
            assert time.monotonic() < deadline, "the pending order never showed as backlog"
            time.sleep(0.1)
        # Payments' answer to the repeated charge is immediate now: the order is confirmed.
        ran = httpx.post(
            shop.urls["orders"] + "/admin/reconcile", params={"older_than": 0}, headers=AUTH
        )
        assert ran.json()["reconciled"] == {"confirmed": 1}
        assert backlog(shop) == 0
        assert_audit_clean(shop)


def backlog(shop: Shop) -> float:
    """orders' backlog_items, as `gameday scale` reads it between steps."""
    return parse_reading(httpx.get(shop.urls["orders"] + "/metrics").text, now=0.0).backlog


def test_checkout_succeeds_while_nats_is_down_and_the_event_waits(tmp_path: Path):
    with running_shop(tmp_path, CORE, urls={"nats": dead_url("nats")}) as shop:
        assert checkout(shop, cart((1, 1))).status_code == 201
        outbox = httpx.get(shop.urls["orders"] + "/admin/outbox", headers=AUTH).json()
        assert outbox == {"waiting": 1, "published": 0, "nats_connected": False}
