"""Service-to-service auth: internal services answer only callers holding the run's secret."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sample_system.catalog.app import create_app as catalog_app
from sample_system.common.auth import (
    SECRET_ENV,
    internal_headers,
    is_valid,
    presented_token,
    run_secret,
)
from sample_system.common.errors import ConfigError
from sample_system.gateway.app import create_app as gateway_app
from tests.sample_system.servers import AUTH, SECRET
from tests.sample_system.shop import API_KEY, Shop, dead_url, running_shop

INTERNAL = ("catalog", "reviews", "inventory", "payments", "orders", "notifications")
ORDER = {"items": [{"product_id": 1, "quantity": 1}], "card_token": "tok_visa"}

# One valid write per write operation of each internal service (all of them: checked below).
WRITES: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "catalog": [],
    "notifications": [],
    "reviews": [
        ("POST", "/products/1/reviews", {"json": {"author": "eve", "rating": 1, "text": "x"}})
    ],
    "inventory": [
        ("PUT", "/reservations/intruder", {"json": {"items": [{"product_id": 1, "quantity": 5}]}}),
        ("POST", "/reservations/intruder/commit", {}),
        ("POST", "/reservations/intruder/release", {}),
    ],
    "payments": [
        ("PUT", "/charges/intruder", {"json": {"amount_cents": 100, "card_token": "tok_visa"}}),
        ("POST", "/charges/intruder/refund", {}),
    ],
    "orders": [
        ("POST", "/orders", {"json": ORDER, "headers": {"Idempotency-Key": "intruder"}}),
        ("POST", "/admin/reconcile", {"params": {"older_than": 0}}),
    ],
}
# What the refused writes would have changed, read back with the secret afterwards.
READ_BACK = {
    "catalog": ["/products", "/products/1"],
    "notifications": ["/admin/notifications", "/admin/consumer"],
    "reviews": ["/products/1/reviews"],
    "inventory": ["/admin/stock", "/admin/reservations", "/reservations/intruder"],
    "payments": ["/admin/charges", "/charges/intruder"],
    "orders": ["/admin/orders", "/admin/outbox"],
}
WRONG = {"Authorization": "Bearer not-this-runs-secret-but-long-enough"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with running_shop(tmp_path_factory.mktemp("shop")) as s:
        yield s


def state(shop: Shop, service: str) -> dict[str, Any]:
    """Everything READ_BACK names, read with the secret: status and body of each."""
    found = {}
    for path in READ_BACK[service]:
        answer = httpx.get(shop.urls[service] + path, headers=AUTH, timeout=10)
        found[path] = (answer.status_code, answer.json())
    return found


def test_the_secret_comes_from_the_environment():
    assert run_secret({SECRET_ENV: SECRET}) == SECRET
    assert internal_headers({SECRET_ENV: SECRET}) == AUTH
    for environ in ({}, {SECRET_ENV: "short"}, {SECRET_ENV: "   "}):
        with pytest.raises(ConfigError, match=f"{SECRET_ENV} .*secrets.token_urlsafe"):
            run_secret(environ)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
    ],
)
def test_the_bearer_token_is_read_from_the_authorization_header(header: str, token: str | None):
    assert presented_token({"authorization": header}) == token


def test_only_the_secret_itself_is_valid():
    assert is_valid(SECRET, SECRET)
    for other in (None, "", SECRET[:-1], SECRET + "x", SECRET.upper()):
        assert not is_valid(other, SECRET)


@pytest.mark.parametrize("factory", [catalog_app, gateway_app])
def test_a_service_without_the_secret_does_not_start(env: dict[str, str], factory: Any):
    app = factory({**env, SECRET_ENV: "", "GATEWAY_API_KEYS": "a=b"})

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(ConfigError, match=SECRET_ENV):
        asyncio.run(start())


def test_every_write_operation_is_in_the_table(shop: Shop):
    for service in INTERNAL:
        document = httpx.get(shop.urls[service] + "/openapi.json", headers=AUTH).json()
        writes = {
            (method.upper(), path)
            for path, operations in document["paths"].items()
            for method in operations
            if method in ("put", "post", "patch", "delete")
        }
        templates = {(m, _template(p, document)) for m, p, _ in WRITES[service]}
        assert writes == templates, service


def _template(path: str, document: dict[str, Any]) -> str:
    """The documented path a concrete path belongs to (ids here are words, not numbers)."""
    for template in document["paths"]:
        parts, concrete = template.split("/"), path.split("/")
        if len(parts) == len(concrete) and all(
            t == c or t.startswith("{") for t, c in zip(parts, concrete, strict=True)
        ):
            return template
    raise AssertionError(f"{path} is not documented")


@pytest.mark.parametrize("service", INTERNAL)
@pytest.mark.parametrize("credentials", [{}, WRONG], ids=["no token", "wrong token"])
def test_unauthenticated_requests_are_refused_and_change_nothing(
    shop: Shop, service: str, credentials: dict[str, str]
):
    before = state(shop, service)
    requests = [*WRITES[service], *(("GET", path, {}) for path in READ_BACK[service])]
    for method, path, options in requests:
        headers = {**options.get("headers", {}), **credentials}
        answer = httpx.request(
            method, shop.urls[service] + path, **{**options, "headers": headers}, timeout=10
        )
        assert answer.status_code == 401, (method, path, answer.text)
        body = answer.json()
        assert body["error"] == (
            "invalid_service_token" if credentials else "missing_service_token"
        )
        assert "Authorization: Bearer" in body["fix"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "not-this-runs-secret" not in answer.text and SECRET not in answer.text
    assert state(shop, service) == before


@pytest.mark.parametrize("service", INTERNAL)
def test_health_and_metrics_need_no_token_and_the_api_document_does(shop: Shop, service: str):
    url = shop.urls[service]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(url + path).status_code == 200, path
    for path in ("/openapi.json", "/docs", "/nowhere"):
        assert httpx.get(url + path).status_code == 401, path
    document = httpx.get(url + "/openapi.json", headers=AUTH).json()
    assert document["security"] == [{"serviceToken": []}]
    assert document["components"]["securitySchemes"]["serviceToken"]["scheme"] == "bearer"


def test_the_gateway_is_public_and_sends_the_secret_itself(shop: Shop):
    gateway = shop.urls["gateway"]
    assert httpx.get(gateway + "/api/products").status_code == 200
    key = {"X-API-Key": API_KEY, "Idempotency-Key": uuid.uuid4().hex}
    assert httpx.post(gateway + "/api/checkout", json=ORDER, headers=key).status_code == 201


def test_a_refused_service_token_is_the_callers_503_not_a_401(tmp_path: Path):
    wrong = {SECRET_ENV: "a-secret-the-others-do-not-share"}
    down = {name: dead_url() for name in ("reviews", "inventory", "orders")}
    with running_shop(
        tmp_path, ("catalog", "gateway"), urls=down, settings={"gateway": wrong}
    ) as shop:
        answer = httpx.get(shop.urls["gateway"] + "/api/products", timeout=10)
    assert answer.status_code == 503, answer.text
    assert (answer.json()["error"], answer.json()["dependency"]) == (
        "dependency_unavailable",
        "catalog",
    )
