"""What a checkout answers, as a pure function of the order.

confirmed                          201 (200 with Idempotent-Replayed on a repeat)
pending, still going forward       202: poll GET /orders/{id}
failed, or pending on its way to   402 declined, 409 out of stock, 503 a dependency down,
fail (compensating)                409 otherwise
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from sample_system.common.errors import ApiError
from sample_system.orders.store import Order

CLIENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"  # X-Client-Id, set by the gateway

FORWARD_STEPS = frozenset({"reserve", "charge", "confirm"})

# reason -> (status, message, fix); reasons ending in _unavailable name the dependency.
FAILURES: dict[str, tuple[int, str, str]] = {
    "payment_declined": (
        402,
        "the card was declined",
        "pay with another card (a new checkout with a new Idempotency-Key)",
    ),
    "out_of_stock": (
        409,
        "not enough stock for an item",
        "order fewer units or another product (with a new Idempotency-Key)",
    ),
    "reservation_lost": (
        409,
        "the stock reservation was lost; the payment is refunded",
        "check out again with a new Idempotency-Key",
    ),
}


def checkout_reply(order: Order, *, replayed: bool) -> JSONResponse:
    """The HTTP answer for an order after a checkout request."""
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    body: dict[str, Any] = {"order": order.public()}
    if order.state == "confirmed":
        return JSONResponse(body, status_code=200 if replayed else 201, headers=headers)
    if order.state == "pending" and order.step in FORWARD_STEPS:
        body["message"] = (
            "the payment's outcome is not known yet; the order will be resolved"
            if order.reason == "payment_outcome_unknown"
            else "the order is being processed"
        )
        body["fix"] = f"poll GET /orders/{order.id} until its state is confirmed or failed"
        return JSONResponse(body, status_code=202, headers={**headers, "Retry-After": "1"})
    return _failure(order, body, headers)


def _failure(order: Order, body: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
    reason = order.reason or "checkout_failed"
    if reason.endswith("_unavailable"):
        dependency = reason.removesuffix("_unavailable")
        error = ApiError(
            503,
            "dependency_unavailable",
            f"{dependency} is unavailable; the order was not completed and nothing was charged",
            "retry later with a new Idempotency-Key",
            headers={**headers, "Retry-After": "1"},
            dependency=dependency,
            reason=reason,
            **body,
        )
    else:
        status, message, fix = FAILURES.get(
            reason, (409, f"the checkout failed ({reason})", "check out again with a new key")
        )
        error = ApiError(status, reason, message, fix, headers=headers, **body)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
