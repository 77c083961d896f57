"""The audit's outcome, as JSON for machines (the experiment runner) and as lines for people.

{"format": "shop-audit", "version": 1, "ok": false,
 "invariants": ["order_id_unique", ...],             # every invariant checked, by id
 "violations": [{"invariant": "confirmed_order_has_one_captured_charge",
                 "entity": {"kind": "order", "id": "3f2a..."},
                 "detail": "charges: ['refunded']"}],
 "pending_orders": ["9c1d..."],                      # pending in the last read
 "counts": {"confirmed": 41, "failed": 3, "pending": 1, "charges": 44, ...},
 "reads": 3, "grace_seconds": 0.0}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sample_system.audit.invariants import INVARIANTS, Violation
from sample_system.audit.snapshot import Snapshot

FORMAT = "shop-audit"
VERSION = 1


@dataclass
class Report:
    """What the audit found in its last read of the shop."""

    violations: list[Violation]
    pending_orders: list[str]
    counts: dict[str, int]
    reads: int = 1
    grace: float = 0.0

    @property
    def ok(self) -> bool:
        """No invariant is broken."""
        return not self.violations

    @classmethod
    def of(
        cls, snapshot: Snapshot, violations: list[Violation], *, reads: int, grace: float
    ) -> Report:
        """The report on `snapshot`, with counts of what it holds."""
        states = [order.state for order in snapshot.orders]
        counts = {state: states.count(state) for state in ("confirmed", "failed", "pending")}
        counts.update(
            charges=len(snapshot.charges),
            reservations=len(snapshot.reservations),
            notifications=len(snapshot.notifications),
            events=len(snapshot.events),
        )
        return cls(violations, snapshot.pending(), counts, reads, grace)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the format in this module's docstring)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "ok": self.ok,
            "invariants": [rule.id for rule in INVARIANTS],
            "violations": [v.as_dict() for v in self.violations],
            "pending_orders": self.pending_orders,
            "counts": self.counts,
            "reads": self.reads,
            "grace_seconds": self.grace,
        }

    def lines(self) -> list[str]:
        """A summary for people: one line, then one per violation."""
        orders = sum(self.counts.get(state, 0) for state in ("confirmed", "failed", "pending"))
        if self.ok:
            return [f"audit: ok, {len(INVARIANTS)} invariants hold over {orders} orders"]
        head = f"audit: {len(self.violations)} violation(s) over {orders} orders"
        return [head, *(f"  {v.invariant}: {v.entity}: {v.detail}" for v in self.violations)]
