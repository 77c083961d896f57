"""Each service's OpenAPI document, read in-process: models, errors, auth, required headers.

test_schemathesis.py holds the running services to these documents; this file checks what
a document must say at all, so a new operation cannot leave its answers undocumented.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.sample_system.servers import AUTH
from tests.sample_system.shop import FACTORIES, Shop, dead_url, running_shop

INTERNAL = sorted(set(FACTORIES) - {"gateway"})
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def document(service: str) -> dict[str, Any]:
    factory: Callable[[Mapping[str, str]], FastAPI] = FACTORIES[service]
    return factory({}).openapi()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, items in doc["paths"].items():
        for method, operation in items.items():
            yield f"{method.upper()} {path}", operation


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_every_answer_has_its_model(service: str):
    doc = document(service)
    for label, operation in operations(doc):
        answers = operation["responses"]
        assert any(status.startswith("2") for status in answers), label
        assert "422" in answers, f"{label}: unknown query parameters are refused with a 422"
        for status, answer in answers.items():
            schema = answer["content"]["application/json"]["schema"]
            if status.startswith("2"):
                assert schema.get("$ref") or schema.get("properties"), f"{label} {status}: {schema}"
            else:
                assert schema == ERROR_BODY, f"{label} {status}"
        if "requestBody" in operation:
            assert "400" in answers, f"{label}: a body that is not JSON is a 400"
    body = doc["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"error", "message", "fix"}
    assert set(body["properties"]) == {"error", "message", "fix", "problems"}


@pytest.mark.parametrize("service", INTERNAL)
def test_internal_services_require_the_service_token_everywhere(service: str):
    doc = document(service)
    assert doc["security"] == [{"serviceToken": []}]
    assert doc["components"]["securitySchemes"]["serviceToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the run's secret (GAMEDAY_RUN_SECRET); only the shop's services have it",
    }
    for label, operation in operations(doc):
        assert "401" in operation["responses"], label
        assert "security" not in operation, label


def test_the_gateway_asks_for_its_api_key_where_it_checks_one():
    doc = document("gateway")
    assert "security" not in doc
    keyed = {label for label, op in operations(doc) if op.get("security") == [{"apiKey": []}]}
    assert keyed == {
        "POST /api/products/{product_id}/reviews",
        "POST /api/checkout",
        "GET /api/orders/{order_id}",
    }
    for label, operation in operations(doc):
        assert ("401" in operation["responses"]) == (label in keyed), label
        assert ("429" in operation["responses"]) == label.startswith("POST"), label


@pytest.mark.parametrize(("service", "path"), [("gateway", "/api/checkout"), ("orders", "/orders")])
def test_checkout_documents_what_it_really_answers(service: str, path: str):
    operation = document(service)["paths"][path]["post"]
    key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["in"], key["required"]) == ("header", True)
    assert {"200", "201", "202", "402", "404", "409", "422", "503"} <= set(operation["responses"])
    for status in ("200", "201", "202"):
        assert "GetOrder" in operation["responses"][status]["links"], status


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    down = {name: dead_url() for name in ("catalog", "inventory", "orders")}
    with running_shop(tmp_path_factory.mktemp("shop"), ("gateway", "reviews"), urls=down) as s:
        yield s


def test_allow_names_every_method_of_the_path(shop: Shop):
    # The reviews path has a GET and a POST route; OPTIONS matches neither.
    for url, headers in (
        (shop.urls["gateway"] + "/api/products/1/reviews", {}),
        (shop.urls["reviews"] + "/products/1/reviews", AUTH),
    ):
        answer = httpx.options(url, headers=headers)
        assert answer.status_code == 405
        assert answer.headers["Allow"] == "GET, POST"
        assert answer.json()["error"] == "method_not_allowed"
    assert httpx.delete(shop.urls["gateway"] + "/api/checkout").headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("body", "field", "got"),
    [
        (b'{"author": "a", "rating": NaN, "text": "t"}', "body.rating", "nan"),
        (b'{"author": "\\ud800", "rating": 5, "text": "t"}', "body.author", "?"),
        (b'{"\\ud800": 1, "author": "a", "rating": 5, "text": "t"}', "body", "?"),
    ],
)
def test_inputs_json_cannot_encode_are_named_not_a_500(shop: Shop, body: bytes, field, got):
    answer = httpx.post(
        shop.urls["reviews"] + "/products/1/reviews",
        content=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    problem = next(p for p in answer.json()["problems"] if p["field"] == field)
    assert problem.get("got") == got


def test_a_body_that_is_not_utf8_is_a_400(shop: Shop):
    answer = httpx.post(
        shop.urls["reviews"] + "/products/1/reviews",
        content=b"\xff",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_request"
