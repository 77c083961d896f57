"""Request bodies the gateway validates at the edge and the owning service validates again.

The gateway answers a bad request with a 422 itself (even while the owner is down), and the
owner never trusts its callers: both use these models.

    POST /api/checkout   X-API-Key: ...   Idempotency-Key: <a new UUID per checkout>
    {"items": [{"product_id": 1, "quantity": 2}], "card_token": "tok_visa"}
    POST /api/products/1/reviews   X-API-Key: ...
    {"author": "ada", "rating": 5, "text": "Opens exactly when it should."}
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import Field, field_validator

from sample_system.common.api import Body
from sample_system.common.errors import ApiError

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class NewReview(Body):
    """A review to post."""

    author: str = Field(min_length=1, max_length=80, description="who wrote it")
    rating: int = Field(ge=1, le=5, description="1 (bad) to 5 (great) stars")
    text: str = Field(min_length=1, max_length=2000)


class Line(Body):
    """One line of a cart."""

    product_id: int = Field(ge=1, le=2**31)
    quantity: int = Field(ge=1, le=100)


class CheckoutRequest(Body):
    """What to buy and how to pay (`tok_declined` is a card that is always declined)."""

    items: list[Line] = Field(min_length=1, max_length=20)
    card_token: str = Field(default="tok_visa", min_length=1, max_length=64)

    @field_validator("items")
    @classmethod
    def _one_line_per_product(cls, items: list[Line]) -> list[Line]:
        if len({line.product_id for line in items}) != len(items):
            raise ValueError("a product is listed twice; combine its lines into one")
        return items

    def digest(self) -> str:
        """A fingerprint of the request, to tell a retry from a reuse of its key."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(value: str | None) -> str:
    """The Idempotency-Key header, or a 422 saying how to send one."""
    if value is None or not KEY_PATTERN.fullmatch(value):
        shown = "missing" if value is None else f"{value[:40]!r} is not valid"
        raise ApiError(
            422,
            "invalid_request",
            f"header.Idempotency-Key: {shown}",
            "send an Idempotency-Key header of 1-100 letters, digits or -_.: (a new UUID for "
            "each checkout; the same one to retry it)",
            problems=[{"field": "header.Idempotency-Key", "problem": shown}],
        )
    return value
