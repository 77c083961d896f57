"""The reconciler: drives orders that were left pending to their outcome.

An order stays pending when its checkout could not finish: the payment's outcome was unknown
(a timeout), a dependency was down, or the replica handling it died. Every `interval` seconds
the reconciler claims pending orders untouched for `older_than` seconds (longer than any
checkout request may take, so it never races a live request) and advances them with the same
saga as checkout. Asking payments is repeating the idempotent charge: payments answers with
the recorded outcome, or completes a charge that was interrupted.

After each pass the orders still pending are exported as `backlog_items{kind="pending_orders"}`
(sample_system.common.backlog): after an overload they are charged one by one, taking a
payments line from the checkouts that come next.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from sample_system.common.backlog import backlog
from sample_system.common.db import Database
from sample_system.orders import store
from sample_system.orders.checkout import Checkout

logger = logging.getLogger(__name__)


class Reconciler:
    """Finds stale pending orders and advances them."""

    def __init__(
        self,
        db: Database,
        checkout: Checkout,
        *,
        older_than: float,
        step_deadline: float = 5.0,
        batch: int = 50,
    ) -> None:
        self._db = db
        self._checkout = checkout
        self.older_than = older_than
        self._step_deadline = step_deadline
        self._batch = batch

    async def run_once(self, older_than: float | None = None) -> dict[str, int]:
        """One pass; counts the claimed orders by the state they ended in."""
        age = self.older_than if older_than is None else older_than
        orders = await self._db.write(lambda db: store.claim_stale(db, age, self._batch))
        outcome: Counter[str] = Counter()
        for order in orders:
            advanced = await self._checkout.advance(
                order, deadline=time.monotonic() + self._step_deadline
            )
            outcome[advanced.state] += 1
            if advanced.state != "pending":
                logger.info("reconciled order %s: %s", order.id, advanced.state)
        backlog("pending_orders").set(await self._db.read(store.count_pending))
        return dict(outcome)
