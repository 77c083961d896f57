"""The gateway against the real services: routing, API keys, rate limits, a degrading page."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tests.sample_system.servers import serve
from tests.sample_system.shop import API_KEY, Shop, dead_url, running_shop

ALL = ("catalog", "inventory", "reviews", "payments", "orders", "gateway")
WRITE = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with running_shop(tmp_path_factory.mktemp("shop"), ALL) as s:
        yield s


@pytest.fixture(scope="module")
def gateway(shop: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.urls["gateway"], timeout=10) as client:
        yield client


def fallbacks(dependency: str, reason: str) -> float:
    labels = {"server_address": dependency, "reason": reason}
    return REGISTRY.get_sample_value("resilience_fallbacks_total", labels) or 0.0


def test_browse_lists_products(gateway: httpx.Client):
    page = gateway.get("/api/products", params={"limit": 3}).json()
    assert [p["id"] for p in page["products"]] == [1, 2, 3]


def test_the_product_page_aggregates_catalog_stock_and_reviews(gateway: httpx.Client):
    posted = gateway.post(
        "/api/products/6/reviews", json={"author": "ada", "rating": 5, "text": "yes"}, headers=WRITE
    )
    assert posted.status_code == 201
    page = gateway.get("/api/products/6").json()
    assert page["name"] == "Dead letter stationery"
    assert page["stock"] == {"available": 1000, "status": "in_stock"}
    assert page["reviews"]["count"] == 1
    assert page["degraded"] == []
    listed = gateway.get("/api/products/6/reviews").json()
    assert listed["reviews"][0]["author"] == "ada"


def test_an_unknown_product_is_a_404_everywhere(gateway: httpx.Client):
    assert gateway.get("/api/products/999").json()["error"] == "product_not_found"
    review = {"author": "ada", "rating": 5, "text": "?"}
    posted = gateway.post("/api/products/999/reviews", json=review, headers=WRITE)
    assert (posted.status_code, posted.json()["error"]) == (404, "product_not_found")


def test_checkout_and_order_lookup_through_the_gateway(gateway: httpx.Client):
    key = uuid.uuid4().hex
    body = {"items": [{"product_id": 2, "quantity": 1}]}
    placed = gateway.post("/api/checkout", json=body, headers={**WRITE, "Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["order_id"]
    again = gateway.post("/api/checkout", json=body, headers={**WRITE, "Idempotency-Key": key})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert gateway.get(f"/api/orders/{order_id}", headers=WRITE).json()["state"] == "confirmed"
    assert gateway.get(f"/api/orders/{order_id}").status_code == 401
    assert gateway.get("/api/orders/unknown", headers=WRITE).json()["error"] == "order_not_found"


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [({}, 401, "missing_api_key"), ({"X-API-Key": "wrong"}, 401, "invalid_api_key")],
)
def test_writes_need_a_known_api_key(gateway: httpx.Client, headers, status, error):
    review = {"author": "ada", "rating": 5, "text": "hi"}
    answer = gateway.post("/api/products/1/reviews", json=review, headers=headers)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert "X-API-Key" in answer.json()["fix"] + answer.json()["message"] + answer.json()["fix"]


ONE = {"items": [{"product_id": 1, "quantity": 1}]}
REVIEW = {"author": "a", "rating": 1, "text": "x"}


@pytest.mark.parametrize(
    ("path", "body", "headers", "field"),
    [
        ("/api/checkout", ONE, WRITE, "header.Idempotency-Key"),
        ("/api/checkout", {"items": [{"product_id": 0, "quantity": 1}]},
         {**WRITE, "Idempotency-Key": "x"}, "body.items.0.product_id"),
        ("/api/checkout", {"items": "all"}, {**WRITE, "Idempotency-Key": "y"}, "body.items"),
        ("/api/checkout", {**ONE, "coupon": "FREE"}, {**WRITE, "Idempotency-Key": "z"},
         "body.coupon"),
        ("/api/products/1/reviews", {**REVIEW, "rating": 0}, WRITE, "body.rating"),
        ("/api/products/x/reviews", REVIEW, WRITE, "path.product_id"),
    ],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field(gateway: httpx.Client, path, body, headers, field):
    answer = gateway.post(path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert field in [p["field"] for p in answer.json()["problems"]]


def test_each_key_is_rate_limited_with_retry_after(tmp_path: Path):
    keys = {"GATEWAY_API_KEYS": "one=k1,two=k2", "GATEWAY_RATE_LIMIT_PER_SECOND": "0.01",
            "GATEWAY_RATE_LIMIT_BURST": "2"}  # fmt: skip
    with running_shop(tmp_path, ("catalog", "reviews", "gateway"), settings={"gateway": keys},
                      urls={"inventory": dead_url(), "orders": dead_url()}) as shop:  # fmt: skip
        review = {"author": "ada", "rating": 4, "text": "ok"}

        def post(key: str) -> httpx.Response:
            url = shop.urls["gateway"] + "/api/products/1/reviews"
            return httpx.post(url, json=review, headers={"X-API-Key": key})

        assert [post("k1").status_code for _ in range(3)] == [201, 201, 429]
        limited = post("k1")
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert post("k2").status_code == 201  # another key has its own bucket


def slow_reviews() -> FastAPI:
    app = FastAPI()

    @app.get("/products/{product_id}/reviews")
    async def reviews(product_id: int) -> dict[str, object]:
        await asyncio.sleep(1.0)  # slower than the page deadline below
        return {"count": 0, "average_rating": None, "reviews": []}

    return app


def test_the_page_degrades_without_reviews_when_reviews_is_down(tmp_path: Path):
    before = fallbacks("reviews", "error")
    with running_shop(tmp_path, ("catalog", "inventory", "gateway"),
                      urls={"reviews": dead_url(), "orders": dead_url()}) as shop:  # fmt: skip
        page = httpx.get(shop.urls["gateway"] + "/api/products/1").json()
        assert "reviews" not in page
        assert page["degraded"] == ["reviews"]
        assert page["stock"]["status"] == "in_stock"
        browse = httpx.get(shop.urls["gateway"] + "/api/products")
        assert browse.status_code == 200
        down = httpx.get(shop.urls["gateway"] + "/api/products/1/reviews")
        assert (down.status_code, down.json()["dependency"]) == (503, "reviews")
    assert fallbacks("reviews", "error") == before + 1


def test_the_page_does_not_wait_past_its_deadline_for_slow_reviews(tmp_path: Path):
    before = fallbacks("reviews", "timeout")
    settings = {"gateway": {"GATEWAY_PAGE_DEADLINE_MS": "200", "REVIEWS_TIMEOUT_S": "30"}}
    with serve(slow_reviews()) as reviews, running_shop(
        tmp_path, ("catalog", "inventory", "gateway"), settings=settings,
        urls={"reviews": reviews, "orders": dead_url()},
    ) as shop:  # fmt: skip
        page = httpx.get(shop.urls["gateway"] + "/api/products/1").json()
        assert page["degraded"] == ["reviews"]
        assert page["stock"]["status"] == "in_stock"
    assert fallbacks("reviews", "timeout") == before + 1


def test_stock_is_unknown_when_inventory_is_down(tmp_path: Path):
    with running_shop(tmp_path, ("catalog", "reviews", "gateway"),
                      urls={"inventory": dead_url(), "orders": dead_url()}) as shop:  # fmt: skip
        page = httpx.get(shop.urls["gateway"] + "/api/products/1").json()
        assert page["stock"] == {"available": None, "status": "unknown"}
        assert page["degraded"] == ["stock"]
        assert page["reviews"]["count"] == 0


def test_without_the_catalog_there_is_no_page_but_a_clear_503(tmp_path: Path):
    with running_shop(tmp_path, ("reviews", "inventory", "gateway"),
                      urls={"catalog": dead_url(), "orders": dead_url()}) as shop:  # fmt: skip
        answer = httpx.get(shop.urls["gateway"] + "/api/products/1")
        assert answer.status_code == 503
        assert answer.json()["dependency"] == "catalog"
        assert answer.headers["Retry-After"] == "1"
