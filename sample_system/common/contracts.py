"""What the gateway and the owning services both speak: request bodies and answer shapes.

The gateway answers a bad request with a 422 itself (even while the owner is down), and the
owner never trusts its callers: both validate with these models, and both document their
answers with them.

    POST /api/checkout   X-API-Key: ...   Idempotency-Key: <a new UUID per checkout>
    {"items": [{"product_id": 1, "quantity": 2}], "card_token": "tok_visa"}
    POST /api/products/1/reviews   X-API-Key: ...
    {"author": "ada", "rating": 5, "text": "Opens exactly when it should."}
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Annotated, Literal

from fastapi import Header
from pydantic import BaseModel, Field

from sample_system.common.api import Body

MAX_OFFSET = 1_000_000  # paging further than any catalog here; bounded so SQLite can take it
MAX_LINES = 20
MAX_QUANTITY = 100
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="1-100 of A-Z a-z 0-9 - _ . :; a new one (e.g. a UUID) per checkout, the "
        "same one to retry it",
    ),
]


class NewReview(Body):
    """A review to post."""

    author: str = Field(min_length=1, max_length=80, description="who wrote it")
    rating: int = Field(ge=1, le=5, description="1 (bad) to 5 (great) stars")
    text: str = Field(min_length=1, max_length=2000)


class Line(Body):
    """One line of a cart."""

    product_id: int = Field(ge=1, le=2**31)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class CheckoutRequest(Body):
    """What to buy and how to pay (`tok_declined` is a card that is always declined).

    A product listed on several lines is bought once, with the quantities added up.
    """

    items: list[Line] = Field(min_length=1, max_length=MAX_LINES)
    card_token: str = Field(default="tok_visa", min_length=1, max_length=64)

    def lines(self) -> list[tuple[int, int]]:
        """(product_id, quantity) with each product once, in the order first listed."""
        totals: Counter[int] = Counter()
        for line in self.items:
            totals[line.product_id] += line.quantity
        return list(totals.items())

    def digest(self) -> str:
        """A fingerprint of the request, to tell a retry from a reuse of its key."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class Product(BaseModel):
    """A product of the catalog."""

    id: int
    name: str
    description: str
    price_cents: int


class ProductList(BaseModel):
    """A page of products, or the products asked for by id."""

    products: list[Product]
    total: int = Field(description="how many products there are (with ids: how many found)")


class Review(BaseModel):
    """A stored review."""

    id: int
    product_id: int
    author: str
    rating: int
    text: str
    created_at: float = Field(description="Unix time")


class ReviewList(BaseModel):
    """The newest reviews of a product and the summary over all of them."""

    product_id: int
    count: int
    average_rating: float | None = Field(description="null while there is no review")
    reviews: list[Review]


class OrderLine(BaseModel):
    """A line of an order, priced when the order was placed."""

    product_id: int
    quantity: int
    unit_price_cents: int


class Order(BaseModel):
    """An order as its client sees it."""

    order_id: str
    state: Literal["pending", "confirmed", "failed"]
    step: Literal["reserve", "charge", "confirm", "refund", "release", "done"] = Field(
        description="what the checkout saga does next"
    )
    reason: str = Field(description="why it failed or waits (payment_declined, ...); '' if none")
    items: list[OrderLine]
    total_cents: int
    created_at: float
    updated_at: float


class Placed(BaseModel):
    """A checkout that went through (201), or a repeat of one (200)."""

    order: Order


class Accepted(BaseModel):
    """A checkout whose outcome is not known yet (202): poll the order."""

    order: Order
    message: str
    fix: str
