"""inventory: stock per product and reservations per order (rules in `stock.py`).

GET  /stock/{product_id}                       {"product_id": 1, "available": 997}
PUT  /reservations/{order_id}                  {"items": [{"product_id": 1, "quantity": 2}]}
GET  /reservations/{order_id}
POST /reservations/{order_id}/commit           held -> committed (idempotent)
POST /reservations/{order_id}/release          held -> released (idempotent)
GET  /admin/stock                              read-only, for the audit
GET  /admin/reservations?state=held
GET  /admin/inventory                          stock, reservations, their lines: one read (audit)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request
from pydantic import Field, field_validator
from starlette.responses import JSONResponse

from sample_system.common import config
from sample_system.common.api import Body, OrderId, database, open_database, service_app
from sample_system.common.errors import ApiError
from sample_system.inventory import stock

ProductId = Annotated[int, Path(ge=1, le=2**31, description="a product id such as 1")]

router = APIRouter()


class Item(Body):
    """One line of a reservation."""

    product_id: int = Field(ge=1, le=2**31)
    quantity: int = Field(ge=1, le=100)


class NewReservation(Body):
    """The items to hold for an order; each product at most once."""

    items: list[Item] = Field(min_length=1, max_length=50)

    @field_validator("items")
    @classmethod
    def _one_line_per_product(cls, items: list[Item]) -> list[Item]:
        seen: set[int] = set()
        for item in items:
            if item.product_id in seen:
                raise ValueError(
                    f"product {item.product_id} is listed twice; "
                    "combine its lines into one with the total quantity"
                )
            seen.add(item.product_id)
        return items


@router.get("/stock/{product_id}")
async def get_stock(request: Request, product_id: ProductId) -> dict[str, int]:
    """Units of a product available to reserve."""
    units = await database(request).read(lambda db: stock.available(db, product_id))
    return {"product_id": product_id, "available": units}


@router.put("/reservations/{order_id}")
async def reserve(request: Request, order_id: OrderId, body: NewReservation) -> JSONResponse:
    """Hold stock for an order: 201 when new, 200 when it was already held (a retry)."""
    items = sorted((item.product_id, item.quantity) for item in body.items)
    reservation, created = await database(request).write(
        lambda db: stock.reserve(db, order_id, items)
    )
    return JSONResponse(reservation, status_code=201 if created else 200)


@router.get("/reservations/{order_id}")
async def get_reservation(request: Request, order_id: OrderId) -> dict[str, Any]:
    """The reservation of an order."""
    reservation = await database(request).read(lambda db: stock.get(db, order_id))
    if reservation is None:
        raise ApiError(
            404,
            "reservation_not_found",
            f"order {order_id} has no reservation",
            "reserve with PUT /reservations/{order_id}",
        )
    return reservation


@router.post("/reservations/{order_id}/commit")
async def commit(request: Request, order_id: OrderId) -> dict[str, Any]:
    """Sell the held stock."""
    return await database(request).write(lambda db: stock.commit(db, order_id))


@router.post("/reservations/{order_id}/release")
async def release(request: Request, order_id: OrderId) -> dict[str, Any]:
    """Give the held stock back."""
    return await database(request).write(lambda db: stock.release(db, order_id))


@router.get("/admin/stock")
async def admin_stock(request: Request) -> dict[str, Any]:
    """Initial and available units of every product."""
    return {"stock": await database(request).read(stock.all_stock)}


@router.get("/admin/reservations")
async def admin_reservations(
    request: Request,
    state: Annotated[Literal["held", "committed", "released"] | None, Query()] = None,
) -> dict[str, Any]:
    """Every reservation with its items."""
    rows = await database(request).read(lambda db: stock.all_reservations(db, state))
    return {"reservations": rows}


@router.get("/admin/inventory")
async def admin_inventory(request: Request) -> dict[str, Any]:
    """Stock, reservations and reserved lines as stored, read in one transaction."""
    return await database(request).read(stock.stored)


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The inventory service; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        initial = config.integer(env, "INVENTORY_INITIAL_STOCK", 1000, minimum=0)
        async with open_database(app, env, stock.SCHEMA, seed=lambda c: stock.seed(c, initial)):
            yield

    app = service_app("inventory", lifespan)
    app.include_router(router)
    return app


app = create_app()
