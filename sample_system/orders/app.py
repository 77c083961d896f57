"""orders: checkout with an Idempotency-Key, the saga behind it, the outbox and the reconciler.

POST /orders              Idempotency-Key: <unique per checkout>, X-Client-Id: <caller>
                          {"items": [{"product_id": 1, "quantity": 2}], "card_token": "tok_visa"}
    201 confirmed | 200 replay of a finished checkout | 202 pending (poll GET /orders/{id})
    402 payment declined | 404 unknown product | 409 out of stock or key reused
    503 a dependency is down
GET  /orders/{order_id}
GET  /admin/orders?state=confirmed     read-only, for the audit
GET  /admin/outbox                     events waiting / published
GET  /admin/outbox/events              every event: id, subject, order id, published (audit)
POST /admin/reconcile?older_than=0     run one reconciler pass now
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from sample_system.common import config
from sample_system.common.api import OrderId, database, open_database, service_app
from sample_system.common.background import Periodic
from sample_system.common.contracts import (
    Accepted,
    CheckoutRequest,
    IdempotencyKey,
    Order,
    Placed,
)
from sample_system.common.errors import ApiError
from sample_system.common.http import ServiceClient, client_from_env
from sample_system.common.messaging import Messaging
from sample_system.common.openapi import errors, link
from sample_system.common.resilience import Policy
from sample_system.orders import store
from sample_system.orders.checkout import Checkout, Dependencies
from sample_system.orders.outbox import OutboxRelay
from sample_system.orders.reconciler import Reconciler
from sample_system.orders.replies import CLIENT_PATTERN, checkout_reply

CLIENT_ID = Header(
    alias="X-Client-Id", pattern=CLIENT_PATTERN, description="the caller (the API key's name)"
)

router = APIRouter()


class AdminOrder(Order):
    """An order with what only the audit sees."""

    model_config = ConfigDict(extra="allow")


class Orders(BaseModel):
    """Orders, oldest first."""

    orders: list[AdminOrder]


class Outbox(BaseModel):
    """The outbox: events waiting and published; whether NATS is connected."""

    waiting: int
    published: int
    nats_connected: bool


class OutboxEvent(BaseModel):
    """An event of the outbox, as stored."""

    event_id: str
    subject: str
    order_id: str | None = Field(description="the order it is about")
    published: bool


class OutboxEvents(BaseModel):
    """Every outbox event, oldest first."""

    events: list[OutboxEvent]


class Reconciled(BaseModel):
    """The orders one reconciler pass claimed, counted by the state they ended in."""

    reconciled: dict[Literal["pending", "confirmed", "failed"], int]


async def _priced(catalog: ServiceClient, body: CheckoutRequest, deadline: float) -> list[Any]:
    lines = body.lines()
    ids = ",".join(str(product_id) for product_id, _ in lines)
    found = await catalog.get_json("/products", params={"ids": ids}, deadline=deadline)
    prices = {product["id"]: product["price_cents"] for product in found["products"]}
    missing = [product_id for product_id, _ in lines if product_id not in prices]
    if missing:
        raise ApiError(
            404,
            "product_not_found",
            f"body.items: there is no product {missing[0]}",
            "use product ids from GET /products",
            problems=[{"field": "body.items", "problem": f"no product {missing[0]}"}],
        )
    return [
        {"product_id": product_id, "quantity": quantity, "unit_price_cents": prices[product_id]}
        for product_id, quantity in lines
    ]


THE_ORDER = {
    "GetOrder": link(
        "GET",
        "/orders/{order_id}",
        order_id="$response.body#/order/order_id",
        **{"header.X-Client-Id": "$request.header.X-Client-Id"},
    )
}
CHECKOUT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Placed,
        "description": "a repeat of a checkout that is finished",
        "links": THE_ORDER,
    },
    201: {"model": Placed, "description": "the order is confirmed", "links": THE_ORDER},
    202: {
        "model": Accepted,
        "description": "outcome not known yet: poll GET /orders/{id}",
        "links": THE_ORDER,
    },
    **errors(
        (402, "the card was declined"),
        (404, "an item names a product that does not exist"),
        (409, "out of stock, or the Idempotency-Key was used for another checkout"),
        422,
        (503, "a dependency is down; nothing was charged"),
    ),
}


@router.post("/orders", status_code=201, response_model=Placed, responses=CHECKOUT_ANSWERS)
async def checkout(
    request: Request,
    body: CheckoutRequest,
    idempotency_key: IdempotencyKey,
    x_client_id: Annotated[str, CLIENT_ID] = "anonymous",
) -> JSONResponse:
    """Place an order once per Idempotency-Key, whatever happens to the request."""
    key, client = idempotency_key, x_client_id
    state = request.app.state
    db = database(request)
    deadline = time.monotonic() + state.checkout_deadline
    existing = await db.read(lambda c: store.find(c, client, key))
    if existing is None:
        items = await _priced(state.catalog, body, deadline)

        def create(c: Any) -> tuple[store.Order, bool]:
            return store.create(
                c,
                client=client,
                idempotency_key=key,
                request_hash=body.digest(),
                items=items,
                card_token=body.card_token,
            )

        order, created = await db.write(create)
    else:
        order, created = existing, False
    if order.request_hash != body.digest():
        raise ApiError(
            409,
            "idempotency_key_reused",
            f"Idempotency-Key {key!r} was already used for a different checkout",
            "use a new Idempotency-Key for a new checkout; reuse a key only to retry",
            order_id=order.id,
        )
    if created:
        order = await state.checkout.advance(order, deadline=deadline)
    return checkout_reply(order, replayed=not created)


@router.get(
    "/orders/{order_id}",
    response_model=Order,
    responses=errors((404, "no such order (of this client)"), 422),
)
async def get_order(
    request: Request, order_id: OrderId, x_client_id: Annotated[str | None, CLIENT_ID] = None
) -> Any:
    """One order; a client sees only its own."""
    order = await database(request).read(lambda c: store.get(c, order_id))
    if order is None or (x_client_id is not None and order.client != x_client_id):
        raise ApiError(
            404, "order_not_found", f"there is no order {order_id}", "check the order id"
        )
    return order.public()


@router.get("/admin/orders", response_model=Orders, responses=errors(422))
async def admin_orders(
    request: Request,
    state: Annotated[Literal["pending", "confirmed", "failed"] | None, Query()] = None,
) -> Any:
    """Every order (optionally of one state), for the audit."""
    return {"orders": await database(request).read(lambda c: store.all_orders(c, state))}


@router.get("/admin/outbox", response_model=Outbox)
async def admin_outbox(request: Request) -> Any:
    """How many events wait in the outbox, how many were published; NATS connected or not."""
    counts = await database(request).read(store.outbox_counts)
    return {**counts, "nats_connected": request.app.state.messaging.connected}


@router.get("/admin/outbox/events", response_model=OutboxEvents)
async def admin_outbox_events(request: Request) -> Any:
    """Every outbox event, for the audit."""
    return {"events": await database(request).read(store.all_events)}


@router.post("/admin/reconcile", response_model=Reconciled, responses=errors(422))
async def admin_reconcile(
    request: Request, older_than: Annotated[float | None, Query(ge=0, le=86_400)] = None
) -> Any:
    """Run one reconciler pass now, over orders pending for `older_than` s (default: setting)."""
    reconciler: Reconciler = request.app.state.reconciler
    return {"reconciled": await reconciler.run_once(older_than)}


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The orders service; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        state = app.state
        state.checkout_deadline = config.number(env, "ORDERS_CHECKOUT_DEADLINE_S", 3.0)
        reconcile_after = config.number(env, "ORDERS_RECONCILE_AFTER_S", 10.0)
        reconcile_every = config.number(env, "ORDERS_RECONCILE_INTERVAL_S", 2.0, minimum=0.01)
        relay_every = config.number(env, "ORDERS_RELAY_INTERVAL_S", 0.5, minimum=0.01)
        async with AsyncExitStack() as stack:
            state.catalog = client_from_env(env, "catalog", Policy(timeout=0.5, attempts=2))
            stack.push_async_callback(state.catalog.aclose)
            inventory = client_from_env(env, "inventory", Policy(timeout=1.0, attempts=3))
            stack.push_async_callback(inventory.aclose)
            # A few times payments' slowest normal answer (a 60-120 ms processor): a replica
            # that hangs costs a checkout 0.4 s before the retry goes to the other replica, not
            # a whole second (the fault-isolation matrix's payments/0:pause cell found that).
            payments = client_from_env(
                env, "payments", Policy(timeout=0.4, attempts=2, max_concurrent=64)
            )
            stack.push_async_callback(payments.aclose)
            state.messaging = Messaging(
                config.urls(env, "nats", scheme="nats"), name=config.instance(env, "orders")
            )
            stack.push_async_callback(state.messaging.close)
            db = await stack.enter_async_context(open_database(app, env, store.SCHEMA))
            relay = OutboxRelay(db, state.messaging)
            relay_loop = Periodic("outbox-relay", relay.publish_pending, interval=relay_every)
            state.checkout = Checkout(
                db, Dependencies(inventory, payments), on_confirmed=relay_loop.wake
            )
            state.reconciler = Reconciler(db, state.checkout, older_than=reconcile_after)
            reconcile_loop = Periodic(
                "reconciler", state.reconciler.run_once, interval=reconcile_every
            )
            await state.messaging.start()
            for loop in (relay_loop, reconcile_loop):
                await loop.start()
                stack.push_async_callback(loop.stop)
            yield

    app = service_app("orders", lifespan, environ=environ)
    app.include_router(router)
    return app


app = create_app()
