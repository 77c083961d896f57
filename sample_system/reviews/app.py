"""reviews: what customers say about products.

    GET  /products/{product_id}/reviews?limit=20   newest first, with count and average rating
    POST /products/{product_id}/reviews            {"author": "ada", "rating": 5, "text": "..."}

Reviews does not know the catalog: the gateway checks that the product exists before posting.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request

from sample_system.common.api import database, open_database, service_app
from sample_system.common.contracts import NewReview, Review, ReviewList
from sample_system.common.openapi import errors, link

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL,
    author TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_by_product ON reviews (product_id, id);
"""

ProductId = Annotated[int, Path(ge=1, le=2**31, description="a product id such as 1")]

router = APIRouter()


def _review(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "product_id": row["product_id"],
        "author": row["author"],
        "rating": row["rating"],
        "text": row["text"],
        "created_at": row["created_at"],
    }


@router.get("/products/{product_id}/reviews", response_model=ReviewList, responses=errors(422))
async def list_reviews(
    request: Request, product_id: ProductId, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Any:
    """The newest reviews of a product and the summary over all of them."""

    def read(db: sqlite3.Connection) -> tuple[list[sqlite3.Row], sqlite3.Row]:
        rows = db.execute(
            "SELECT * FROM reviews WHERE product_id = ? ORDER BY id DESC LIMIT ?",
            (product_id, limit),
        ).fetchall()
        summary = db.execute(
            "SELECT count(*) AS n, avg(rating) AS average FROM reviews WHERE product_id = ?",
            (product_id,),
        ).fetchone()
        return rows, summary

    rows, summary = await database(request).read(read)
    average = summary["average"]
    return {
        "product_id": product_id,
        "count": summary["n"],
        "average_rating": None if average is None else round(average, 2),
        "reviews": [_review(row) for row in rows],
    }


@router.post(
    "/products/{product_id}/reviews",
    status_code=201,
    response_model=Review,
    responses={
        201: {
            "links": {
                "ListReviews": link(
                    "GET", "/products/{product_id}/reviews", product_id="$response.body#/product_id"
                )
            }
        },
        **errors(422),
    },
)
async def post_review(request: Request, product_id: ProductId, review: NewReview) -> Any:
    """Store a review; answers 201 with it."""

    def insert(db: sqlite3.Connection) -> sqlite3.Row:
        cursor = db.execute(
            "INSERT INTO reviews (product_id, author, rating, text, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING *",
            (product_id, review.author, review.rating, review.text, time.time()),
        )
        row: sqlite3.Row = cursor.fetchone()
        return row

    return _review(await database(request).write(insert))


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The reviews service; settings from `environ` (default: the process environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = os.environ if environ is None else environ
        async with open_database(app, env, SCHEMA):
            yield

    app = service_app("reviews", lifespan, environ=environ)
    app.include_router(router)
    return app


app = create_app()
