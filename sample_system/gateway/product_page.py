"""The product page: catalog + stock + reviews within one deadline, degrading gracefully.

The product itself (catalog) is critical: without it there is no page, and the caller gets a
clear 404 or 503. Stock and reviews are not: when inventory fails the page says stock
"unknown"; when reviews fails, or either misses the deadline, the page has no reviews section
and lists what was left out under `degraded`. Each fallback is counted in
`resilience_fallbacks_total{server_address, reason}`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from sample_system.common.contracts import Product, Review
from sample_system.common.errors import ApiError, DependencyRejected, DependencyUnavailable
from sample_system.common.http import ServiceClient


class Stock(BaseModel):
    """What inventory says about a product; `unknown` when it did not answer in time."""

    available: int | None
    status: Literal["in_stock", "out_of_stock", "unknown"]


class ReviewSummary(BaseModel):
    """The product's review count, average and five newest reviews."""

    count: int
    average_rating: float | None
    recent: list[Review]


class ProductPage(Product):
    """The product, its stock and its reviews; `degraded` lists the parts left out."""

    stock: Stock
    reviews: ReviewSummary | None = Field(
        default=None, description="absent when reviews did not answer in time"
    )
    degraded: list[Literal["stock", "reviews"]]


@dataclass(frozen=True)
class PageClients:
    """The services the page is built from."""

    catalog: ServiceClient
    inventory: ServiceClient
    reviews: ServiceClient


def _stock(result: Any) -> dict[str, Any]:
    available = int(result["available"])
    return {"available": available, "status": "in_stock" if available > 0 else "out_of_stock"}


def _reviews(result: Any) -> dict[str, Any]:
    return {
        "count": result["count"],
        "average_rating": result["average_rating"],
        "recent": result["reviews"],
    }


async def product_page(clients: PageClients, product_id: int, deadline_s: float) -> dict[str, Any]:
    """The aggregated page of one product."""
    deadline = clients.catalog.deadline_in(deadline_s)
    product = asyncio.ensure_future(
        clients.catalog.get_json(f"/products/{product_id}", deadline=deadline)
    )
    stock = asyncio.ensure_future(
        clients.inventory.get_json(f"/stock/{product_id}", deadline=deadline)
    )
    reviews = asyncio.ensure_future(
        clients.reviews.get_json(
            f"/products/{product_id}/reviews", params={"limit": 5}, deadline=deadline
        )
    )
    tasks = [product, stock, reviews]
    try:
        # The per-call deadline stops retries; this bounds a call stuck in its last attempt.
        await asyncio.wait(tasks, timeout=deadline_s)
    finally:
        for task in tasks:
            task.cancel()
    stock_result = _optional(stock, clients.inventory)
    reviews_result = _optional(reviews, clients.reviews)
    page = {**_critical(product, product_id), "stock": {"available": None, "status": "unknown"}}
    degraded: list[str] = []
    if stock_result is not None:
        page["stock"] = _stock(stock_result)
    else:
        degraded.append("stock")
    if reviews_result is not None:
        page["reviews"] = _reviews(reviews_result)
    else:
        degraded.append("reviews")
    page["degraded"] = degraded
    return page


def _critical(task: asyncio.Future[Any], product_id: int) -> dict[str, Any]:
    if not task.done() or task.cancelled():
        raise DependencyUnavailable(
            "catalog", "timeout", "no answer within the page deadline", maybe_processed=True
        )
    error = task.exception()
    if isinstance(error, DependencyRejected) and error.status == 404:
        raise ApiError(
            404,
            "product_not_found",
            f"there is no product {product_id}",
            "list the products with GET /api/products",
        )
    if error is not None:
        raise error
    result: dict[str, Any] = task.result()
    return result


def _optional(task: asyncio.Future[Any], client: ServiceClient) -> Any | None:
    """The task's result, or None after counting the fallback that replaces it."""
    if not task.done() or task.cancelled():
        client.resilience.fallback("timeout")
        return None
    error = task.exception()
    if error is None:
        return task.result()
    client.resilience.fallback(
        error.reason if isinstance(error, DependencyUnavailable) else "error"
    )
    return None
