"""catalog: the products of the shop (read-only in this sample; seeded on first start).

GET /products?limit=20&offset=0      a page of products, with the total count
GET /products?ids=1,2,3              the products with these ids (for pricing a cart)
GET /products/{product_id}           one product, 404 when unknown
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request

from sample_system.common.api import database, open_database, service_app
from sample_system.common.contracts import MAX_OFFSET, Product, ProductList
from sample_system.common.errors import ApiError
from sample_system.common.openapi import errors, link
from sample_system.common.seed import SEED_PRODUCTS

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0)
);
"""

MAX_IDS = 100
ID = r"[1-9][0-9]{0,9}"
IDS_PATTERN = rf"^{ID}(,{ID}){{0,{MAX_IDS - 1}}}$"
ProductId = Annotated[int, Path(ge=1, le=2**31, description="a product id such as 1")]

router = APIRouter()


def _seed(db: sqlite3.Connection) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO products (id, name, description, price_cents) VALUES (?, ?, ?, ?)",
        [(p.id, p.name, p.description, p.price_cents) for p in SEED_PRODUCTS],
    )


def _product(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "price_cents": row["price_cents"],
    }


FIRST_PRODUCT = link("GET", "/products/{product_id}", product_id="$response.body#/products/0/id")


@router.get(
    "/products",
    response_model=ProductList,
    responses={200: {"links": {"GetProduct": FIRST_PRODUCT}}, **errors(422)},
)
async def list_products(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ids: Annotated[
        str | None,
        Query(
            pattern=IDS_PATTERN,
            description=f"up to {MAX_IDS} comma-separated product ids, e.g. 1,2,3; "
            "overrides paging",
        ),
    ] = None,
) -> Any:
    """A page of products, or exactly the products named in `ids`."""
    if ids is not None:
        wanted = [int(part) for part in ids.split(",")]
        marks = ",".join("?" * len(wanted))

        def by_ids(db: sqlite3.Connection) -> list[sqlite3.Row]:
            query = f"SELECT * FROM products WHERE id IN ({marks}) ORDER BY id"
            return db.execute(query, wanted).fetchall()

        rows = await database(request).read(by_ids)
        return {"products": [_product(row) for row in rows], "total": len(rows)}

    def page(db: sqlite3.Connection) -> tuple[list[sqlite3.Row], int]:
        rows = db.execute(
            "SELECT * FROM products ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
        ).fetchall()
        return rows, db.execute("SELECT count(*) FROM products").fetchone()[0]

    rows, total = await database(request).read(page)
    return {"products": [_product(row) for row in rows], "total": total}


@router.get("/products/{product_id}", response_model=Product, responses=errors(404, 422))
async def get_product(request: Request, product_id: ProductId) -> Any:
    """One product."""
    row = await database(request).read(
        lambda db: db.execute("SELECT * FROM products WHERE id = ?", (product_id,)).fetchone()
    )
    if row is None:
        raise ApiError(
            404,
            "product_not_found",
            f"there is no product {product_id}",
            "list the products with GET /products",
        )
    return _product(row)


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The catalog service; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        async with open_database(app, env, SCHEMA, seed=_seed):
            yield

    app = service_app("catalog", lifespan, environ=environ)
    app.include_router(router)
    return app


app = create_app()
