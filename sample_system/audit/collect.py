"""Reading the audit's snapshot through each service's read-only admin API, never a database.

Which replica answers does not matter (replicas share their service's data), so each
service is read at the first of its URLs. The services are read one after another, not in
one transaction, so a snapshot taken under load can show an order between two steps, and
some invariants hold only eventually (notifications follow confirmations through NATS;
pending orders wait for the reconciler). With `wait` the audit reads again until the
snapshot has no violation and no pending order, or the time is up: what it reports then
persisted for the whole wait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sample_system.audit.invariants import Snapshot, Violation, check
from sample_system.common import config
from sample_system.common.auth import internal_headers

SERVICES = ("orders", "payments", "inventory", "notifications")


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


@dataclass
class Report:
    """The audit's outcome."""

    violations: list[Violation]
    pending_orders: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No invariant is broken."""
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "violations": [v.as_dict() for v in self.violations],
            "pending_orders": self.pending_orders,
            "counts": self.counts,
        }


def _read(client: httpx.Client, base: str, path: str, key: str) -> list[dict[str, Any]]:
    url = base.rstrip("/") + path
    try:
        response = client.get(url)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()[key]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise AuditUnreachable(
            f"cannot read {url} ({type(exc).__name__}: {exc}); check that the service runs "
            "and that its URL (flag or <SERVICE>_URLS) is right"
        ) from exc
    return rows


def snapshot(targets: Targets, client: httpx.Client) -> Snapshot:
    """Read everything the invariants need, orders first (newer rows elsewhere are fine)."""
    return Snapshot(
        orders=_read(client, targets.orders, "/admin/orders", "orders"),
        charges=_read(client, targets.payments, "/admin/charges", "charges"),
        reservations=_read(client, targets.inventory, "/admin/reservations", "reservations"),
        stock=_read(client, targets.inventory, "/admin/stock", "stock"),
        notifications=_read(client, targets.notifications, "/admin/notifications", "notifications"),
    )


def audit(targets: Targets, *, wait: float = 0.0, poll: float = 0.5) -> Report:
    """Check the invariants, re-reading for up to `wait` s while eventual ones are unmet."""
    deadline = time.monotonic() + wait
    with httpx.Client(timeout=10.0, headers=internal_headers(os.environ)) as client:
        while True:
            shot = snapshot(targets, client)
            violations = check(shot)
            settled = not shot.pending() and not violations
            if settled or time.monotonic() >= deadline:
                break
            time.sleep(poll)
    states = [order["state"] for order in shot.orders]
    counts = {state: states.count(state) for state in ("confirmed", "failed", "pending")}
    counts["notifications"] = len(shot.notifications)
    counts["charges"] = len(shot.charges)
    return Report(violations, shot.pending(), counts)
