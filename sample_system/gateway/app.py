"""gateway: the shop's only public entry point (API in docs/sample-system.md).

    GET  /api/products?limit=&offset=          catalog
    GET  /api/products/{id}                    product page: catalog + stock + reviews, degrading
    GET  /api/products/{id}/reviews            reviews
    POST /api/products/{id}/reviews            X-API-Key; rate limited per key
    POST /api/checkout                         X-API-Key + Idempotency-Key; rate limited per key
    GET  /api/orders/{order_id}                X-API-Key (a key sees only its own orders)

Settings: `GATEWAY_API_KEYS` (`name=key,name=key`, required), `GATEWAY_RATE_LIMIT_PER_SECOND`
(50), `GATEWAY_RATE_LIMIT_BURST` (100), `GATEWAY_PAGE_DEADLINE_MS` (800), the callees'
`<DEP>_URLS` and the run's secret `GAMEDAY_RUN_SECRET`, sent to them (`common/auth.py`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Security
from fastapi.security import APIKeyHeader
from starlette.responses import JSONResponse

from sample_system.common import config
from sample_system.common.api import OrderId, service_app
from sample_system.common.contracts import (
    MAX_OFFSET,
    Accepted,
    CheckoutRequest,
    IdempotencyKey,
    NewReview,
    Order,
    Placed,
    ProductList,
    Review,
    ReviewList,
)
from sample_system.common.errors import ApiError, DependencyRejected
from sample_system.common.http import ServiceClient, client_from_env
from sample_system.common.openapi import HEADERS, errors, link
from sample_system.common.resilience import Policy
from sample_system.gateway.product_page import PageClients, ProductPage, product_page
from sample_system.gateway.ratelimit import RateLimiter, retry_after_header

ProductId = Annotated[int, Path(ge=1, le=2**31, description="a product id such as 1")]

API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKey",
    description="your API key (GATEWAY_API_KEYS); writes and orders need one",
    auto_error=False,
)

router = APIRouter(prefix="/api")


class Access:
    """API keys (name -> key) and the per-key write rate limit."""

    def __init__(self, keys: Mapping[str, str], limiter: RateLimiter) -> None:
        self._keys = dict(keys)
        self.limiter = limiter

    def client(self, api_key: str | None) -> str:
        """The client name an X-API-Key belongs to, or a 401 saying what to send."""
        if not api_key:
            raise ApiError(
                401,
                "missing_api_key",
                "this endpoint needs an API key",
                "send your key in the X-API-Key header",
                headers={"WWW-Authenticate": "X-API-Key"},
            )
        for name, key in self._keys.items():
            if hmac.compare_digest(api_key.encode(), key.encode()):
                return name
        raise ApiError(
            401,
            "invalid_api_key",
            "the X-API-Key is not a known key",
            "check the key; keys are configured in GATEWAY_API_KEYS",
            headers={"WWW-Authenticate": "X-API-Key"},
        )

    def writer(self, api_key: str | None) -> str:
        """Like `client`, and takes one write from the client's rate limit (or a 429)."""
        name = self.client(api_key)
        wait = self.limiter.try_acquire(name)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"API key {name!r} is over its limit of {self.limiter.rate:g} writes/s "
                f"(bursts of {self.limiter.burst})",
                f"retry after {retry_after_header(wait)} s, or spread the writes out",
                headers={"Retry-After": retry_after_header(wait)},
                retry_after_seconds=round(wait, 3),
            )
        return name


def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


def api_client(request: Request, api_key: Annotated[str | None, Security(API_KEY)]) -> str:
    """The client name of the request's X-API-Key (a 401 before anything else is read)."""
    return _access(request).client(api_key)


def api_writer(request: Request, api_key: Annotated[str | None, Security(API_KEY)]) -> str:
    """Like `api_client`, and takes one write from the client's rate limit (or a 429)."""
    return _access(request).writer(api_key)


def _client(request: Request, name: str) -> ServiceClient:
    client: ServiceClient = getattr(request.app.state, name)
    return client


def _relay(refused: DependencyRejected) -> JSONResponse:
    """Pass a callee's refusal on to our caller as it is: its body names the problem."""
    return JSONResponse(refused.body, status_code=refused.status, headers=_retry_after(refused))


def _retry_after(refused: DependencyRejected) -> dict[str, str]:
    value = refused.response.headers.get("Retry-After")
    return {"Retry-After": value} if value else {}


FIRST_PRODUCT = link(
    "GET", "/api/products/{product_id}", product_id="$response.body#/products/0/id"
)
THE_ORDER = {
    "GetOrder": link("GET", "/api/orders/{order_id}", order_id="$response.body#/order/order_id")
}


@router.get(
    "/products",
    response_model=ProductList,
    responses={200: {"links": {"GetProductPage": FIRST_PRODUCT}}, **errors(422, 503)},
)
async def list_products(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Any:
    """A page of products."""
    params = {"limit": limit, "offset": offset}
    return await _client(request, "catalog").get_json("/products", params=params)


@router.get(
    "/products/{product_id}",
    response_model=ProductPage,
    response_model_exclude_unset=True,
    responses=errors((404, "there is no such product"), 422, 503),
)
async def get_product_page(request: Request, product_id: ProductId) -> Any:
    """The product with its stock and recent reviews; degraded parts are listed."""
    state = request.app.state
    return await product_page(state.page_clients, product_id, state.page_deadline)


@router.get("/products/{product_id}/reviews", response_model=ReviewList, responses=errors(422, 503))
async def list_reviews(
    request: Request, product_id: ProductId, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Any:
    """The reviews of a product."""
    path = f"/products/{product_id}/reviews"
    return await _client(request, "reviews").get_json(path, params={"limit": limit})


@router.post(
    "/products/{product_id}/reviews",
    status_code=201,
    response_model=Review,
    responses={
        201: {
            "links": {
                "ListReviews": link(
                    "GET",
                    "/api/products/{product_id}/reviews",
                    product_id="$response.body#/product_id",
                )
            }
        },
        **errors(401, (404, "there is no such product"), 422, 429, 503),
    },
)
async def post_review(
    request: Request,
    product_id: ProductId,
    review: NewReview,
    _: Annotated[str, Depends(api_writer)],
) -> Any:
    """Post a review of an existing product."""
    try:
        await _client(request, "catalog").get_json(f"/products/{product_id}")
        # Not idempotent: a retry after a lost answer could post the review twice.
        response = await _client(request, "reviews").request(
            "POST", f"/products/{product_id}/reviews", json=review.model_dump(), idempotent=False
        )
    except DependencyRejected as refused:
        return _relay(refused)
    return response.json()


REPLAYED = {"description": "true: the answer of an earlier request with this key",
            "schema": {"type": "string"}, "required": True}  # fmt: skip
RETRY_AFTER = {**HEADERS[503]["Retry-After"], "description": "seconds to wait before polling"}
CHECKOUT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Placed,
        "description": "a repeat of a checkout that is finished",
        "headers": {"Idempotent-Replayed": REPLAYED},
        "links": THE_ORDER,
    },
    201: {"model": Placed, "description": "the order is confirmed", "links": THE_ORDER},
    202: {
        "model": Accepted,
        "description": "accepted, outcome not known yet: poll the order",
        "headers": {"Retry-After": RETRY_AFTER},
        "links": THE_ORDER,
    },
    **errors(
        401,
        (402, "the card was declined; the stock is given back (`order` is the failed order)"),
        (404, "an item names a product that does not exist"),
        (409, "out of stock, or the Idempotency-Key was used for another checkout"),
        422,
        429,
        (503, "a dependency is down; nothing was charged"),
    ),
}


@router.post("/checkout", status_code=201, response_model=Placed, responses=CHECKOUT_ANSWERS)
async def checkout(
    request: Request,
    body: CheckoutRequest,
    idempotency_key: IdempotencyKey,
    client: Annotated[str, Depends(api_writer)],
) -> JSONResponse:
    """Place an order; repeat with the same Idempotency-Key to retry safely."""
    try:
        # Idempotent thanks to the key: a retry returns the order the first attempt made.
        response = await _client(request, "orders").request(
            "POST",
            "/orders",
            json=body.model_dump(),
            headers={"Idempotency-Key": idempotency_key, "X-Client-Id": client},
            idempotent=True,
        )
    except DependencyRejected as refused:
        return _relay(refused)
    passed = {
        k: v for k, v in response.headers.items() if k in ("idempotent-replayed", "retry-after")
    }
    return JSONResponse(response.json(), status_code=response.status_code, headers=passed)


@router.get(
    "/orders/{order_id}",
    response_model=Order,
    responses=errors(401, (404, "the caller has no such order"), 422, 503),
)
async def get_order(
    request: Request, order_id: OrderId, client: Annotated[str, Depends(api_client)]
) -> Any:
    """One of the caller's orders."""
    try:
        response = await _client(request, "orders").request(
            "GET", f"/orders/{order_id}", headers={"X-Client-Id": client}, idempotent=True
        )
    except DependencyRejected as refused:
        return _relay(refused)
    return response.json()


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The gateway; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        state = app.state
        rate = config.number(env, "GATEWAY_RATE_LIMIT_PER_SECOND", 50.0, minimum=0.001)
        burst = config.integer(env, "GATEWAY_RATE_LIMIT_BURST", 100, minimum=1)
        state.access = Access(config.pairs(env, "GATEWAY_API_KEYS"), RateLimiter(rate, burst))
        state.page_deadline = config.integer(env, "GATEWAY_PAGE_DEADLINE_MS", 800, minimum=1) / 1000
        state.catalog = client_from_env(env, "catalog", Policy(timeout=0.5, attempts=2))
        state.inventory = client_from_env(env, "inventory", Policy(timeout=0.3, attempts=2))
        state.reviews = client_from_env(env, "reviews", Policy(timeout=0.3, attempts=2))
        state.orders = client_from_env(env, "orders", Policy(timeout=5.0, attempts=2))
        state.page_clients = PageClients(state.catalog, state.inventory, state.reviews)
        try:
            yield
        finally:
            for client in (state.catalog, state.inventory, state.reviews, state.orders):
                await client.aclose()

    app = service_app("gateway", lifespan, environ=environ, public=True)
    app.include_router(router)
    return app


app = create_app()
