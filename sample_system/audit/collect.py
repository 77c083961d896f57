"""Reading the audit's snapshot through each service's read-only admin API, never a database.

Which replica answers does not matter (replicas share their service's data), so each
service is read at the first of its URLs. Orders are read first and again last (see
`snapshot.py` for why that makes the cross-service checks exact under load); inventory's
stock and reservations come in one answer read in one transaction, so conservation is
judged on a consistent picture. Some invariants hold only once the system is quiet
(notifications follow confirmations through NATS; pending orders wait for the reconciler):
with `wait` the audit reads again until no invariant is broken, or the time is up, and what
it reports then persisted for the whole wait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from sample_system.audit.invariants import check
from sample_system.audit.report import Report
from sample_system.audit.snapshot import (
    ChargeRow,
    EventRow,
    ItemRow,
    NotificationRow,
    OrderRow,
    ReservationRow,
    RowInvalid,
    Snapshot,
    StockRow,
    parse_rows,
)
from sample_system.common import config
from sample_system.common.auth import internal_headers

__all__ = ["SERVICES", "AuditUnreachable", "Report", "Targets", "audit", "snapshot"]

SERVICES = ("orders", "payments", "inventory", "notifications")

R = TypeVar("R")


class AuditUnreachable(Exception):
    """A service could not be read; the message names it, the URL and the fix."""


@dataclass(frozen=True)
class Targets:
    """The base URL of each audited service."""

    orders: str
    payments: str
    inventory: str
    notifications: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Targets:
        """From `<SERVICE>_URLS` (the first URL of each), as the runtime names them."""
        return cls(**{name: config.urls(environ, name)[0] for name in SERVICES})


class _Reader:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def get(self, base: str, path: str) -> dict[str, Any]:
        url = base.rstrip("/") + path
        try:
            response = self._client.get(url)
            response.raise_for_status()
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError(f"expected a JSON object, got {str(body)[:200]}")
        except (httpx.HTTPError, ValueError) as exc:
            raise AuditUnreachable(
                f"cannot read {url} ({type(exc).__name__}: {exc}); check that the service runs "
                "(a version with this admin endpoint) and that its URL (flag or "
                "<SERVICE>_URLS) is right"
            ) from exc
        return body

    def rows(
        self, base: str, path: str, key: str, parse: Callable[[Mapping[str, Any]], R]
    ) -> list[R]:
        return self.parsed(self.get(base, path), key, parse, base + path)

    @staticmethod
    def parsed(
        body: dict[str, Any], key: str, parse: Callable[[Mapping[str, Any]], R], where: str
    ) -> list[R]:
        try:
            return parse_rows(body.get(key), parse, f"{where} ({key!r})")
        except RowInvalid as exc:
            raise AuditUnreachable(
                f"unexpected answer: {exc}; audit a shop of the same version as this audit"
            ) from exc


def snapshot(targets: Targets, client: httpx.Client) -> Snapshot:
    """Read every audited table: orders first, then the others, then orders again."""
    read = _Reader(client)
    orders_first = read.rows(targets.orders, "/admin/orders", "orders", OrderRow.parse)
    events = read.rows(targets.orders, "/admin/outbox/events", "events", EventRow.parse)
    charges = read.rows(targets.payments, "/admin/charges", "charges", ChargeRow.parse)
    inventory = read.get(targets.inventory, "/admin/inventory")
    where = targets.inventory + "/admin/inventory"
    return Snapshot(
        orders_first=orders_first,
        events=events,
        charges=charges,
        reservations=read.parsed(inventory, "reservations", ReservationRow.parse, where),
        items=read.parsed(inventory, "items", ItemRow.parse, where),
        stock=read.parsed(inventory, "stock", StockRow.parse, where),
        notifications=read.rows(
            targets.notifications, "/admin/notifications", "notifications", NotificationRow.parse
        ),
        orders=read.rows(targets.orders, "/admin/orders", "orders", OrderRow.parse),
    )


def audit(targets: Targets, *, wait: float = 0.0, poll: float = 0.5, grace: float = 0.0) -> Report:
    """Check every invariant, re-reading for up to `wait` s while any is broken.

    `grace`: seconds an order may stay pending, or a confirmation wait for its notification
    and its event's publication, before that counts as a violation (0: the shop is quiet).
    """
    deadline = time.monotonic() + wait
    reads = 0
    with httpx.Client(timeout=10.0, headers=internal_headers(os.environ)) as client:
        while True:
            shot = snapshot(targets, client)
            reads += 1
            violations = check(shot, now=time.time(), grace=grace)
            if not violations or time.monotonic() >= deadline:
                return Report.of(shot, violations, reads=reads, grace=grace)
            time.sleep(poll)
