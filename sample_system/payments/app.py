"""payments: charges idempotent by order id, through a slow simulated processor.

    PUT  /charges/{order_id}          {"amount_cents": 1999, "card_token": "tok_visa"}
                                      -> the charge, state captured | declined
    GET  /charges/{order_id}
    POST /charges/{order_id}/refund   captured -> refunded (idempotent)
    GET  /admin/charges?state=captured

Settings: `PROCESSOR_LATENCY_MS` (default "20-50") and `PROCESSOR_CONCURRENCY` (default 4) per
replica; see `processor.py` for why capacity grows with the replica count.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field

from sample_system.common.api import Body, OrderId, database, open_database, service_app
from sample_system.common.errors import ApiError
from sample_system.common.openapi import errors, link
from sample_system.payments import charges
from sample_system.payments.processor import Processor, ProcessorSettings

router = APIRouter()


class NewCharge(Body):
    """What to charge for an order."""

    amount_cents: int = Field(ge=1, le=100_000_000)
    card_token: str = Field(default="tok_visa", min_length=1, max_length=64)


ChargeState = Literal["processing", "captured", "declined", "refunded"]


class Charge(BaseModel):
    """The charge of an order."""

    order_id: str
    amount_cents: int
    state: ChargeState
    created_at: float
    updated_at: float


class Charges(BaseModel):
    """Charges, oldest first."""

    charges: list[Charge]


NOT_FOUND = (404, "the order has no charge")
SAME_ORDER = {"order_id": "$request.path.order_id"}


@router.put(
    "/charges/{order_id}",
    response_model=Charge,
    responses={
        200: {
            "links": {
                "GetCharge": link("GET", "/charges/{order_id}", **SAME_ORDER),
                "Refund": link("POST", "/charges/{order_id}/refund", **SAME_ORDER),
            }
        },
        **errors((409, "the order was charged another amount"), 422),
    },
)
async def charge(request: Request, order_id: OrderId, body: NewCharge) -> Any:
    """Charge an order once; repeating the request returns (or completes) the same charge."""
    db = database(request)
    record = await db.write(
        lambda c: charges.begin(c, order_id, body.amount_cents, body.card_token)
    )
    if record["state"] != "processing":
        return record
    # New, or interrupted earlier (a crash, a dropped connection): drive it to its outcome.
    token = await db.read(lambda c: charges.card_token(c, order_id))
    processor: Processor = request.app.state.processor
    outcome = await processor.charge(order_id, body.amount_cents, token)
    return await db.write(lambda c: charges.finish(c, order_id, outcome))


@router.get("/charges/{order_id}", response_model=Charge, responses=errors(NOT_FOUND, 422))
async def get_charge(request: Request, order_id: OrderId) -> Any:
    """The charge of an order."""
    record = await database(request).read(lambda c: charges.get(c, order_id))
    if record is None:
        raise ApiError(
            404,
            "charge_not_found",
            f"order {order_id} has no charge",
            "charge it with PUT /charges/{order_id}",
        )
    return record


@router.post(
    "/charges/{order_id}/refund",
    response_model=Charge,
    responses=errors(NOT_FOUND, (409, "the charge is still processing"), 422),
)
async def refund(request: Request, order_id: OrderId) -> Any:
    """Refund a captured charge."""
    return await database(request).write(lambda c: charges.refund(c, order_id))


@router.get("/admin/charges", response_model=Charges, responses=errors(422))
async def admin_charges(
    request: Request, state: Annotated[ChargeState | None, Query()] = None
) -> Any:
    """Every charge (optionally of one state), for the audit."""
    return {"charges": await database(request).read(lambda c: charges.all_charges(c, state))}


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The payments service; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        app.state.processor = Processor(ProcessorSettings.from_env(env))
        async with open_database(app, env, charges.SCHEMA):
            yield

    app = service_app("payments", lifespan, environ=environ)
    app.include_router(router)
    return app


app = create_app()
