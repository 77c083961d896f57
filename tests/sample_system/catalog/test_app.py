"""catalog over HTTP: paging, lookup by ids, 404 and bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sample_system.catalog.app import create_app
from sample_system.common.seed import SEED_PRODUCTS
from tests.sample_system.servers import serve_client


@pytest.fixture
def catalog(env: dict[str, str]) -> Iterator[httpx.Client]:
    with serve_client(create_app(env)) as client:
        yield client


def test_pages_through_the_seeded_products(catalog: httpx.Client):
    first = catalog.get("/products", params={"limit": 5}).json()
    rest = catalog.get("/products", params={"limit": 100, "offset": 5}).json()
    assert first["total"] == len(SEED_PRODUCTS)
    ids = [p["id"] for p in first["products"] + rest["products"]]
    assert ids == [p.id for p in SEED_PRODUCTS]


def test_products_by_ids_skip_unknown_ones(catalog: httpx.Client):
    found = catalog.get("/products", params={"ids": "3,1,999"}).json()["products"]
    assert [p["id"] for p in found] == [1, 3]
    assert found[0]["price_cents"] == SEED_PRODUCTS[0].price_cents


def test_one_product_and_an_unknown_one(catalog: httpx.Client):
    assert catalog.get("/products/2").json()["name"] == SEED_PRODUCTS[1].name
    missing = catalog.get("/products/999")
    assert missing.status_code == 404
    assert missing.json()["error"] == "product_not_found"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/products/abc", {}, "path.product_id"),
        ("/products/0", {}, "path.product_id"),
        ("/products", {"limit": "0"}, "query.limit"),
        ("/products", {"offset": "-1"}, "query.offset"),
        ("/products", {"offset": str(2**63)}, "query.offset"),
        ("/products", {"limt": "5"}, "query.limt"),
        ("/products/1", {"limit": "5"}, "query.limit"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(catalog: httpx.Client, path, params, field):
    answer = catalog.get(path, params=params)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == field


@pytest.mark.parametrize("ids", ["1,two", "0", "1,,2", ",".join(["1"] * 101), "1" * 11])
def test_bad_ids_are_a_422_naming_the_value(catalog: httpx.Client, ids: str):
    answer = catalog.get("/products", params={"ids": ids})
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == "query.ids"
    assert answer.json()["problems"][0]["got"] == ids[:100]


def test_unknown_path_and_method_are_json(catalog: httpx.Client):
    assert catalog.get("/nothing").json()["error"] == "not_found"
    assert catalog.delete("/products/1").json()["error"] == "method_not_allowed"


def test_seeding_twice_keeps_one_copy(env: dict[str, str]):
    for _ in range(2):
        with serve_client(create_app(env)) as client:
            assert client.get("/products").json()["total"] == len(SEED_PRODUCTS)
