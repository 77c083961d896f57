"""The registry of live replicas: who serves each service, and how each caller reaches them.

    registry = Registry(topology)
    registry.endpoints("payments", caller="orders")   # Membership: the proxies orders.payments.*
    registry.update(new_topology)                      # after a scale: version + 1, watchers wake
    registry.wait("payments", "orders", after=3, timeout=10)   # long poll: a version > 3
    registry.acknowledged("payments", {"orders-0"}, version)   # has every caller seen it?

Callers see proxy addresses (one per callee replica, as in `<DEP>_URLS`); without a caller,
the direct replica addresses. Every change bumps one version number for the whole registry;
each read by a caller instance is remembered, so the runtime knows when every caller has
seen a replica leave (the first step of draining it). Served over HTTP by
`chaos.runtime.control`; the format is in docs/runtime.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from chaos.system.topology import Topology


@dataclass(frozen=True)
class Membership:
    """The endpoints of one service as one caller reaches them, at one version."""

    service: str
    caller: str | None
    version: int
    endpoints: tuple[str, ...]
    replicas: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """The body of GET /v1/endpoints/<service>."""
        return {
            "service": self.service,
            "caller": self.caller,
            "version": self.version,
            "endpoints": [
                {"replica": r, "url": u} for r, u in zip(self.replicas, self.endpoints, strict=True)
            ],
        }


class Registry:
    """Versioned membership of every service, with long polls and read receipts."""

    def __init__(self, topology: Topology) -> None:
        self._topology = topology
        self.version = 1
        self._changed = threading.Condition()
        self._seen: dict[tuple[str, str], int] = {}  # (instance, service) -> version read

    @property
    def topology(self) -> Topology:
        """The topology the registry currently describes."""
        return self._topology

    def update(self, topology: Topology) -> int:
        """Describe `topology` from now on; the new version (watchers are woken)."""
        with self._changed:
            self._topology = topology
            self.version += 1
            self._changed.notify_all()
            return self.version

    def endpoints(self, service: str, caller: str | None = None) -> Membership:
        """The service's replicas: through `caller`'s proxies, or direct without a caller."""
        with self._changed:
            topology, version = self._topology, self.version
        if caller is None:
            plans = topology.replicas(service)
            return Membership(
                service, None, version, tuple(p.url for p in plans), tuple(p.replica for p in plans)
            )
        proxies = [p for p in topology.proxies if p.caller == caller and p.callee == service]
        if not proxies:
            topology.replicas(service)  # ConfigInvalid when there is no such service
            topology.replicas(caller)
            raise KeyError(f"{caller} does not depend on {service}")
        return Membership(
            service,
            caller,
            version,
            tuple(p.url for p in proxies),
            tuple(p.replica for p in proxies),
        )

    def wait(self, after: int, timeout: float) -> int:
        """Block until the version is above `after` (or `timeout`); the version then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.version <= after:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self.version

    def saw(self, instance: str, service: str, version: int) -> None:
        """Record that caller `instance` (e.g. orders-0) now uses `version` of `service`."""
        with self._changed:
            key = (instance, service)
            self._seen[key] = max(version, self._seen.get(key, 0))
            self._changed.notify_all()

    def acknowledged(self, service: str, instances: Collection[str], version: int) -> list[str]:
        """The instances among `instances` that have not yet read `version` of `service`."""
        with self._changed:
            return [i for i in instances if self._seen.get((i, service), 0) < version]

    def wait_acknowledged(
        self, service: str, instances: Collection[str], version: int, timeout: float
    ) -> list[str]:
        """Wait until every instance read `version` of `service`; those that did not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                missing = [i for i in instances if self._seen.get((i, service), 0) < version]
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self._changed.wait(min(left, 0.1))

    def to_json(self) -> dict[str, Any]:
        """The body of GET /v1/registry: every service's direct replicas and every edge."""
        with self._changed:
            topology, version = self._topology, self.version
        return {
            "version": version,
            "services": {
                name: [
                    {"replica": p.replica, "url": p.url}
                    for p in topology.processes
                    if p.service == name
                ]
                for name in topology.services
            },
            "edges": [
                {"caller": p.caller, "service": p.callee, "replica": p.replica, "url": p.url}
                for p in topology.proxies
            ],
        }
