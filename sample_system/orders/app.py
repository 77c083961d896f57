"""orders: checkout with an Idempotency-Key, the saga behind it, the outbox and the reconciler.

POST /orders              Idempotency-Key: <unique per checkout>, X-Client-Id: <caller>
                          {"items": [{"product_id": 1, "quantity": 2}], "card_token": "tok_visa"}
    201 confirmed | 200 replay of a finished checkout | 202 pending (poll GET /orders/{id})
    402 payment declined | 409 out of stock or key reused | 503 a dependency is down
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
from starlette.responses import JSONResponse

from sample_system.common import config
from sample_system.common.api import OrderId, database, open_database, service_app
from sample_system.common.background import Periodic
from sample_system.common.contracts import CheckoutRequest, validate_key
from sample_system.common.errors import ApiError
from sample_system.common.http import ServiceClient, client_from_env
from sample_system.common.messaging import Messaging
from sample_system.common.resilience import Policy
from sample_system.orders import store
from sample_system.orders.checkout import Checkout, Dependencies
from sample_system.orders.outbox import OutboxRelay
from sample_system.orders.reconciler import Reconciler
from sample_system.orders.replies import checkout_reply, validate_client

router = APIRouter()


async def _priced(catalog: ServiceClient, body: CheckoutRequest, deadline: float) -> list[Any]:
    ids = ",".join(str(line.product_id) for line in body.items)
    found = await catalog.get_json("/products", params={"ids": ids}, deadline=deadline)
    prices = {product["id"]: product["price_cents"] for product in found["products"]}
    missing = [line.product_id for line in body.items if line.product_id not in prices]
    if missing:
        raise ApiError(
            422,
            "invalid_request",
            f"body.items: unknown product {missing[0]}",
            "use product ids from GET /products",
            problems=[{"field": "body.items", "problem": f"unknown product {missing[0]}"}],
        )
    return [
        {"product_id": line.product_id, "quantity": line.quantity,
         "unit_price_cents": prices[line.product_id]}
        for line in body.items
    ]  # fmt: skip


@router.post("/orders")
async def checkout(
    request: Request,
    body: CheckoutRequest,
    idempotency_key: Annotated[str | None, Header()] = None,
    x_client_id: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Place an order once per Idempotency-Key, whatever happens to the request."""
    key = validate_key(idempotency_key)
    client = validate_client(x_client_id)
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


@router.get("/orders/{order_id}")
async def get_order(
    request: Request, order_id: OrderId, x_client_id: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """One order; a client sees only its own."""
    order = await database(request).read(lambda c: store.get(c, order_id))
    if order is None or (x_client_id is not None and order.client != x_client_id):
        raise ApiError(
            404, "order_not_found", f"there is no order {order_id}", "check the order id"
        )
    return order.public()


@router.get("/admin/orders")
async def admin_orders(
    request: Request,
    state: Annotated[Literal["pending", "confirmed", "failed"] | None, Query()] = None,
) -> dict[str, Any]:
    """Every order (optionally of one state), for the audit."""
    return {"orders": await database(request).read(lambda c: store.all_orders(c, state))}


@router.get("/admin/outbox")
async def admin_outbox(request: Request) -> dict[str, Any]:
    """How many events wait in the outbox, how many were published; NATS connected or not."""
    counts = await database(request).read(store.outbox_counts)
    return {**counts, "nats_connected": request.app.state.messaging.connected}


@router.get("/admin/outbox/events")
async def admin_outbox_events(request: Request) -> dict[str, Any]:
    """Every outbox event, for the audit."""
    return {"events": await database(request).read(store.all_events)}


@router.post("/admin/reconcile")
async def admin_reconcile(
    request: Request, older_than: Annotated[float | None, Query(ge=0, le=86_400)] = None
) -> dict[str, Any]:
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

    app = service_app("orders", lifespan)
    app.include_router(router)
    return app


app = create_app()
