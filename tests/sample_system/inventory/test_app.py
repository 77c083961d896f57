"""inventory over HTTP: reservations held, committed and released idempotently; stock conserved."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sample_system.inventory.app import create_app
from tests.sample_system.servers import serve_client


@pytest.fixture
def inventory(env: dict[str, str]) -> Iterator[httpx.Client]:
    with serve_client(create_app({**env, "INVENTORY_INITIAL_STOCK": "10"})) as client:
        yield client


def items(*lines: tuple[int, int]) -> dict[str, list[dict[str, int]]]:
    return {"items": [{"product_id": p, "quantity": q} for p, q in lines]}


def available(client: httpx.Client, product_id: int) -> int:
    return int(client.get(f"/stock/{product_id}").json()["available"])


def assert_conserved(client: httpx.Client) -> None:
    held: dict[int, int] = {}
    for reservation in client.get("/admin/reservations").json()["reservations"]:
        if reservation["state"] in ("held", "committed"):
            for item in reservation["items"]:
                held[item["product_id"]] = held.get(item["product_id"], 0) + item["quantity"]
    for row in client.get("/admin/stock").json()["stock"]:
        assert row["initial"] == row["available"] + held.get(row["product_id"], 0), row


def test_a_product_listed_twice_is_held_once_with_the_sum(inventory: httpx.Client):
    held = inventory.put("/reservations/o1", json=items((2, 1), (1, 2), (2, 3)))
    assert held.status_code == 201, held.text
    assert held.json()["items"] == [
        {"product_id": 1, "quantity": 2},
        {"product_id": 2, "quantity": 4},
    ]
    assert available(inventory, 2) == 6
    assert inventory.put("/reservations/o1", json=items((1, 2), (2, 4))).status_code == 200


def test_reserve_is_idempotent_per_order(inventory: httpx.Client):
    first = inventory.put("/reservations/o1", json=items((1, 3), (2, 1)))
    assert first.status_code == 201
    assert first.json()["state"] == "held"
    again = inventory.put("/reservations/o1", json=items((2, 1), (1, 3)))
    assert again.status_code == 200
    assert available(inventory, 1) == 7
    assert_conserved(inventory)


def test_the_same_order_with_other_items_is_a_conflict(inventory: httpx.Client):
    inventory.put("/reservations/o1", json=items((1, 3)))
    refused = inventory.put("/reservations/o1", json=items((1, 4)))
    assert refused.status_code == 409
    assert refused.json()["error"] == "reservation_mismatch"


def test_out_of_stock_holds_nothing(inventory: httpx.Client):
    refused = inventory.put("/reservations/o1", json=items((1, 2), (2, 11)))
    assert refused.status_code == 409
    body = refused.json()
    assert (body["error"], body["product_id"], body["available"]) == ("out_of_stock", 2, 10)
    assert available(inventory, 1) == 10
    assert_conserved(inventory)


def test_commit_and_release_are_idempotent_and_final(inventory: httpx.Client):
    inventory.put("/reservations/sold", json=items((1, 2)))
    inventory.put("/reservations/back", json=items((1, 3)))
    for _ in range(2):
        assert inventory.post("/reservations/sold/commit").json()["state"] == "committed"
        assert inventory.post("/reservations/back/release").json()["state"] == "released"
    assert available(inventory, 1) == 8  # 2 sold, 3 given back
    assert inventory.post("/reservations/sold/release").json()["error"] == "reservation_committed"
    assert inventory.post("/reservations/back/commit").json()["error"] == "reservation_released"
    assert_conserved(inventory)


def test_releasing_an_unknown_order_leaves_a_tombstone_against_a_late_reserve(
    inventory: httpx.Client,
):
    assert inventory.post("/reservations/late/release").json()["state"] == "released"
    refused = inventory.put("/reservations/late", json=items((1, 1)))
    assert refused.status_code == 409
    assert refused.json()["error"] == "reservation_released"
    assert available(inventory, 1) == 10


def test_committing_an_unknown_order_is_a_404(inventory: httpx.Client):
    answer = inventory.post("/reservations/nope/commit")
    assert answer.status_code == 404
    assert "reserve with PUT" in answer.json()["fix"]


def test_unknown_product_is_a_404(inventory: httpx.Client):
    assert inventory.get("/stock/999").json()["error"] == "product_not_found"
    assert inventory.put("/reservations/o9", json=items((999, 1))).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/reservations/o1", {"items": []}, "body.items"),
        ("/reservations/o1", items((1, 0)), "body.items.0.quantity"),
        ("/reservations/o1", {"items": [{"product_id": 1, "qty": 1}]}, "body.items.0.qty"),
        ("/reservations/has%20space", items((1, 1)), "path.order_id"),
        ("/reservations/o1", None, "body"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(inventory: httpx.Client, path, body, field):
    answer = inventory.put(path, json=body)
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert field in [p["field"] for p in problems], problems
    assert answer.json()["fix"]


def test_bad_state_filter_is_a_422(inventory: httpx.Client):
    answer = inventory.get("/admin/reservations", params={"state": "lost"})
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == "query.state"
