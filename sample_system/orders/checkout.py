"""The checkout saga: reserve stock -> charge -> confirm, with compensation on failure.

    reserve ──ok──► charge ──captured──► confirm ──ok──► done (confirmed, event in outbox)
       │               │  └─declined/refused──┐  └─reservation lost─► refund ─┐
       └─refused/down──┴──payments down*──────┴────────────► release ◄────────┘ ─► done (failed)

Every step calls an idempotent endpoint, so it can be repeated after a crash, a timeout or by
another replica. `advance()` drives an order as far as it can go now; it stops early when an
outcome is unknown or a dependency is down, and the reconciler drives it on later.

The one outcome that is never guessed is the payment's: a charge request that may have reached
payments (a timeout, a dropped connection) leaves the order pending with
`reason="payment_outcome_unknown"`, and only payments' own answer, obtained by repeating the
idempotent charge, moves it on. (*) Failing an order because payments is down is allowed only
when no charge request for it can have reached payments: the breaker was open, the bulkhead
full, or the connection was refused, and no earlier attempt had an unknown outcome.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from sample_system.common.db import Database
from sample_system.common.errors import DependencyRejected, DependencyUnavailable
from sample_system.common.http import ServiceClient
from sample_system.common.messaging import trace_headers
from sample_system.orders import store
from sample_system.orders.store import Order, State, Step

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dependencies:
    """The services the saga calls."""

    inventory: ServiceClient
    payments: ServiceClient


class Checkout:
    """Drives orders through the saga, persisting every step before taking the next."""

    def __init__(
        self, db: Database, deps: Dependencies, *, on_confirmed: Callable[[], None] = lambda: None
    ) -> None:
        self._db = db
        self._deps = deps
        self._on_confirmed = on_confirmed

    async def advance(self, order: Order, *, deadline: float) -> Order:
        """Take steps until the order is final or blocked; returns it as it now stands."""
        while order.state == "pending":
            moved = await self._step(order, deadline)
            if moved is None:
                return await self._reload(order)
            if moved.step == order.step:  # blocked: outcome unknown or a dependency is down
                return moved
            order = moved
        return order

    async def _reload(self, order: Order) -> Order:
        latest = await self._db.read(lambda db: store.get(db, order.id))
        return latest or order

    async def _step(self, order: Order, deadline: float) -> Order | None:
        handlers = {
            "reserve": self._reserve,
            "charge": self._charge,
            "confirm": self._confirm,
            "refund": self._refund,
            "release": self._release,
        }
        return await handlers[order.step](order, deadline)

    async def _move(
        self,
        order: Order,
        step: Step,
        *,
        reason: str | None = None,
        state: State = "pending",
        charge_uncertain: bool | None = None,
    ) -> Order | None:
        # Taken here, in the request's context: the database thread has none.
        headers = trace_headers() if state == "confirmed" else None

        def write(db: sqlite3.Connection) -> Order | None:
            return store.move(
                db,
                order,
                step,
                reason=reason,
                state=state,
                charge_uncertain=charge_uncertain,
                trace_headers=headers,
            )

        moved = await self._db.write(write)
        if moved is not None and state == "confirmed":
            self._on_confirmed()
        return moved

    async def _reserve(self, order: Order, deadline: float) -> Order | None:
        body = {
            "items": [
                {"product_id": i["product_id"], "quantity": i["quantity"]} for i in order.items
            ]
        }
        try:
            await self._deps.inventory.request(
                "PUT", f"/reservations/{order.id}", json=body, idempotent=True, deadline=deadline
            )
        except DependencyRejected as refused:
            return await self._move(order, "release", reason=refused.code or "reservation_refused")
        except DependencyUnavailable:
            # Releasing is safe whatever happened: it returns held stock or leaves a tombstone.
            return await self._move(order, "release", reason="inventory_unavailable")
        return await self._move(order, "charge", reason="")

    async def _charge(self, order: Order, deadline: float) -> Order | None:
        body = {"amount_cents": order.total_cents, "card_token": order.card_token}
        try:
            response = await self._deps.payments.request(
                "PUT", f"/charges/{order.id}", json=body, idempotent=True, deadline=deadline
            )
        except DependencyRejected as refused:
            return await self._move(order, "release", reason=refused.code or "payment_refused")
        except DependencyUnavailable as down:
            if down.maybe_processed or order.charge_uncertain:
                return await self._move(
                    order, "charge", reason="payment_outcome_unknown", charge_uncertain=True
                )
            return await self._move(order, "release", reason="payments_unavailable")
        outcome = response.json().get("state")
        if outcome == "captured":
            return await self._move(order, "confirm", reason="")
        if outcome == "declined":
            return await self._move(order, "release", reason="payment_declined")
        # "processing": another request is charging it right now; ask again later.
        return await self._move(
            order, "charge", reason="payment_outcome_unknown", charge_uncertain=True
        )

    async def _confirm(self, order: Order, deadline: float) -> Order | None:
        try:
            await self._deps.inventory.request(
                "POST", f"/reservations/{order.id}/commit", idempotent=True, deadline=deadline
            )
        except DependencyRejected as refused:
            logger.error("order %s: reservation not committable (%s)", order.id, refused.code)
            return await self._move(order, "refund", reason="reservation_lost")
        except DependencyUnavailable:
            return await self._move(order, "confirm", reason="inventory_unavailable")
        return await self._move(order, "done", reason="", state="confirmed")

    async def _refund(self, order: Order, deadline: float) -> Order | None:
        try:
            await self._deps.payments.request(
                "POST", f"/charges/{order.id}/refund", idempotent=True, deadline=deadline
            )
        except DependencyRejected as refused:
            if refused.code == "charge_in_progress":
                return await self._move(order, "refund")
            # charge_not_found: nothing was charged, nothing to refund.
        except DependencyUnavailable:
            return await self._move(order, "refund")
        return await self._move(order, "release")

    async def _release(self, order: Order, deadline: float) -> Order | None:
        try:
            await self._deps.inventory.request(
                "POST", f"/reservations/{order.id}/release", idempotent=True, deadline=deadline
            )
        except DependencyRejected as refused:
            logger.error("order %s: reservation not releasable (%s)", order.id, refused.code)
        except DependencyUnavailable:
            return await self._move(order, "release")
        return await self._move(order, "done", state="failed")
