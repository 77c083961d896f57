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
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from sample_system.common import config
from sample_system.common.api import Body, OrderId, database, open_database, service_app
from sample_system.common.contracts import MAX_LINES, MAX_QUANTITY
from sample_system.common.errors import ApiError
from sample_system.common.openapi import errors, link
from sample_system.inventory import stock

ProductId = Annotated[int, Path(ge=1, le=2**31, description="a product id such as 1")]

router = APIRouter()


class Item(Body):
    """One line of a reservation."""

    product_id: int = Field(ge=1, le=2**31)
    # Orders sends a checkout's lines with each product once, quantities added up.
    quantity: int = Field(ge=1, le=MAX_LINES * MAX_QUANTITY)


class NewReservation(Body):
    """The items to hold for an order; a product listed twice is held once, summed."""

    items: list[Item] = Field(min_length=1, max_length=50)

    def lines(self) -> list[tuple[int, int]]:
        """(product_id, quantity), each product once, sorted by product id."""
        totals: Counter[int] = Counter()
        for item in self.items:
            totals[item.product_id] += item.quantity
        return sorted(totals.items())


class Stock(BaseModel):
    """Units of a product available to reserve."""

    product_id: int
    available: int


class ReservedItem(BaseModel):
    """A product held by a reservation."""

    product_id: int
    quantity: int


class Reservation(BaseModel):
    """The stock an order holds (`held`), has bought (`committed`) or gave back (`released`)."""

    model_config = ConfigDict(extra="allow")

    order_id: str
    state: Literal["held", "committed", "released"]
    items: list[ReservedItem]


class StockRow(BaseModel):
    """A product's initial and available units."""

    model_config = ConfigDict(extra="allow")

    product_id: int
    initial: int
    available: int


class StockTable(BaseModel):
    """Every product's stock."""

    stock: list[StockRow]


class Reservations(BaseModel):
    """Reservations with their items."""

    reservations: list[Reservation]


class StoredReservation(BaseModel):
    """A reservation row."""

    order_id: str
    state: Literal["held", "committed", "released"]


class StoredItem(BaseModel):
    """A reserved line."""

    order_id: str
    product_id: int
    quantity: int


class Stored(BaseModel):
    """Stock, reservations and reserved lines as stored, read in one transaction."""

    stock: list[StockRow]
    reservations: list[StoredReservation]
    items: list[StoredItem]


NOT_FOUND = (404, "the order has no reservation")
SAME_ORDER = {"order_id": "$request.path.order_id"}
RESERVATION_LINKS = {
    "GetReservation": link("GET", "/reservations/{order_id}", **SAME_ORDER),
    "Commit": link("POST", "/reservations/{order_id}/commit", **SAME_ORDER),
    "Release": link("POST", "/reservations/{order_id}/release", **SAME_ORDER),
}


@router.get("/stock/{product_id}", response_model=Stock, responses=errors(404, 422))
async def get_stock(request: Request, product_id: ProductId) -> Any:
    """Units of a product available to reserve."""
    units = await database(request).read(lambda db: stock.available(db, product_id))
    return {"product_id": product_id, "available": units}


@router.put(
    "/reservations/{order_id}",
    status_code=201,
    response_model=Reservation,
    responses={
        201: {"links": RESERVATION_LINKS},
        200: {
            "model": Reservation,
            "description": "already held with these items (a retry)",
            "links": RESERVATION_LINKS,
        },
        **errors(
            (404, "a product has no stock record"),
            (409, "out of stock, released already, or held with other items"),
            422,
        ),
    },
)
async def reserve(request: Request, order_id: OrderId, body: NewReservation) -> JSONResponse:
    """Hold stock for an order: 201 when new, 200 when it was already held (a retry)."""
    items = body.lines()
    reservation, created = await database(request).write(
        lambda db: stock.reserve(db, order_id, items)
    )
    return JSONResponse(reservation, status_code=201 if created else 200)


@router.get(
    "/reservations/{order_id}", response_model=Reservation, responses=errors(NOT_FOUND, 422)
)
async def get_reservation(request: Request, order_id: OrderId) -> Any:
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


@router.post(
    "/reservations/{order_id}/commit",
    response_model=Reservation,
    responses=errors(NOT_FOUND, (409, "the reservation was released"), 422),
)
async def commit(request: Request, order_id: OrderId) -> Any:
    """Sell the held stock."""
    return await database(request).write(lambda db: stock.commit(db, order_id))


@router.post(
    "/reservations/{order_id}/release",
    response_model=Reservation,
    responses=errors((409, "the reservation is committed"), 422),
)
async def release(request: Request, order_id: OrderId) -> Any:
    """Give the held stock back."""
    return await database(request).write(lambda db: stock.release(db, order_id))


@router.get("/admin/stock", response_model=StockTable)
async def admin_stock(request: Request) -> Any:
    """Initial and available units of every product."""
    return {"stock": await database(request).read(stock.all_stock)}


@router.get("/admin/reservations", response_model=Reservations, responses=errors(422))
async def admin_reservations(
    request: Request,
    state: Annotated[Literal["held", "committed", "released"] | None, Query()] = None,
) -> Any:
    """Every reservation with its items."""
    rows = await database(request).read(lambda db: stock.all_reservations(db, state))
    return {"reservations": rows}


@router.get("/admin/inventory", response_model=Stored)
async def admin_inventory(request: Request) -> Any:
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

    app = service_app("inventory", lifespan, environ=environ)
    app.include_router(router)
    return app


app = create_app()
