"""Work a service still owes that no request waits for: the backlog convention.

    backlog("pending_orders").set(17)    # exported as backlog_items{kind="pending_orders"} 17

A reconciler's pending items, an outbox's unpublished events: work that runs after the
requests that caused it have been answered, and that competes with the next requests for the
same resources. `gameday scale` waits until every replica reports a backlog of 0 before it
measures the next rate, so an overloaded step's leftovers do not count against the next
(docs/scaling.md, "The backlog convention").
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Gauge

BACKLOG_METRIC = "backlog_items"


@cache
def _gauge() -> Gauge:
    return Gauge(
        BACKLOG_METRIC,
        "Items of deferred work the service still owes (no request waits for them).",
        ["kind"],
    )


def backlog(kind: str) -> Gauge:
    """The backlog gauge of one kind of deferred work."""
    return _gauge().labels(kind)
