"""Scaling a running system: add replicas behind new proxies, drain and remove replicas.

    scaler = Scaler(system)            # RunningSystem.scale() uses it
    scaler.scale("payments", 3)        # new proxies (faults on the edge inherited), spawn,
                                       # wait ready, then the registry announces them
    scaler.scale("payments", 1)        # the registry drops them first; once every caller has
                                       # read that (and nothing is in flight) they stop

Adding: the proxies of the new replica are created first (inheriting the faults on their
edge, chaos.runtime.scaling.inherited), then the process starts, and only once it is ready
does the registry list it, so no caller is sent to an address that does not answer yet.

Removing (draining): the registry stops listing the replica; the runtime waits until every
running caller instance has read that version (`drain_timeout` at most), then until the
replica reports no request in flight (`http_server_active_requests`), then stops it with
SIGTERM (the server finishes what it holds) and deletes its proxies.

A copied toxic or disabled state is kept in line with its edge by `sync()` (called every
second by the runtime): when the fault is removed from the original proxies it goes from the
copies too.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from chaos.errors import RuntimeFailure
from chaos.proxy.client import ProxyInfo, ToxiproxyError
from chaos.runtime.health import wait_ready
from chaos.runtime.process import Child, stop_groups
from chaos.runtime.scaling import check_scalable, grow, inherited, shrink
from chaos.runtime.supervisor import RUNNING, STARTING, Replica
from chaos.runtime.telemetry import read_replica
from chaos.system.topology import ProxyPlan, Topology

if TYPE_CHECKING:
    from chaos.runtime.system import RunningSystem

logger = logging.getLogger("chaos.runtime")


class Scaler:
    """Changes replica counts of one running system, one change at a time."""

    def __init__(self, system: RunningSystem, *, drain_timeout: float = 10.0) -> None:
        self.system = system
        self.drain_timeout = drain_timeout
        self.lock = threading.Lock()
        self.copied_toxics: set[tuple[str, str]] = set()  # (proxy, toxic) inherited
        self.copied_disabled: set[str] = set()

    def scale(self, service: str, count: int) -> dict[str, Any]:
        """Run `count` replicas of `service`; what changed and how long it took."""
        system = self.system
        check_scalable(system.spec, service, count)
        with self.lock:
            before = len(system.topology.replicas(service))
            started = time.monotonic()
            if count > before:
                self._add(service, count)
            elif count < before:
                self._remove(service, count)
            took = time.monotonic() - started
        if count != before:
            system.events.emit(
                "scaled", service, count - 1, detail=f"{before} -> {count} in {took:.1f}s"
            )
        return {"service": service, "before": before, "replicas": count, "seconds": took}

    # -- adding -------------------------------------------------------------------------------

    def _add(self, service: str, count: int) -> None:
        system = self.system
        old = system.topology
        new = grow(
            old, system.spec, service, count, allocate_port=system.ports, python=sys.executable
        )
        known = {p.name for p in old.proxies}
        proxies = [p for p in new.proxies if p.name not in known]
        self._create_proxies(proxies)
        plans = [
            p
            for p in new.processes
            if p.service == service and p.replica >= len(old.replicas(service))
        ]
        records = [Replica(Child(plan)) for plan in plans]
        try:
            for record in records:
                pid = system.spawn(record.child)
                system.events.emit(
                    "started", service, record.child.plan.replica, pid=pid, detail="scaled out"
                )
            for record in records:
                wait_ready(record.child, timeout=system.ready_timeout)
        except BaseException:
            stop_groups([r.child.pid for r in records if r.child.pid], system.stop_timeout)
            for proxy in proxies:
                self._delete_proxy(proxy.name)
            raise
        for record in records:
            system.adopt(record)
            system.events.emit("ready", service, record.child.plan.replica, pid=record.child.pid)
        system.apply_topology(new)

    def _create_proxies(self, proxies: list[ProxyPlan]) -> None:
        client = self.system.toxiproxy
        current = client.proxies()
        for proxy in proxies:
            edge = [
                info
                for name, info in current.items()
                if name.rpartition(".")[0] == f"{proxy.caller}.{proxy.callee}"
            ]
            enabled, toxics = inherited(edge)
            client.create_proxy(proxy.name, proxy.upstream, listen=proxy.listen)
            for toxic in toxics:
                client.add_toxic(
                    proxy.name,
                    toxic.type,
                    name=toxic.name,
                    stream=toxic.stream,
                    toxicity=toxic.toxicity,
                    attributes=toxic.attributes,
                )
                self.copied_toxics.add((proxy.name, toxic.name))
            if not enabled:
                client.disable(proxy.name)
                self.copied_disabled.add(proxy.name)

    # -- removing -----------------------------------------------------------------------------

    def _remove(self, service: str, count: int) -> None:
        system = self.system
        old = system.topology
        new = shrink(old, service, count)
        leaving = [p for p in old.replicas(service) if p.replica >= count]
        gone = [p for p in old.proxies if p.callee == service and p.replica >= count]
        version = system.apply_topology(new)
        callers = self._live_callers(new, service)
        missing = system.registry.wait_acknowledged(service, callers, version, self.drain_timeout)
        if missing:
            logger.warning(
                "drain %s: %s did not read the registry within %.0fs",
                service,
                ", ".join(missing),
                self.drain_timeout,
            )
        deadline = time.monotonic() + self.drain_timeout
        for plan in leaving:
            while plan.metrics is not None and time.monotonic() < deadline:
                reading = read_replica(plan.url, plan.metrics, timeout=1.0)
                if reading is None or reading.in_flight <= 0:
                    break
                time.sleep(0.05)
        records = [system.record(plan.service, plan.replica) for plan in leaving]
        for record in records:
            system.supervisor.forget(record)
        survivors = stop_groups(
            [r.child.pid for r in records if r.child.pid and r.child.alive()], system.stop_timeout
        )
        for record in records:
            record.child.reap()
            system.forget(record)
            system.events.emit(
                "removed",
                service,
                record.child.plan.replica,
                pid=record.child.pid,
                detail="scaled in, drained",
            )
        for proxy in gone:
            self._delete_proxy(proxy.name)
        if survivors:
            raise RuntimeFailure(f"processes {survivors} survived SIGKILL; check them with ps")

    def _live_callers(self, topology: Topology, service: str) -> list[str]:
        system = self.system
        callers = {p.caller for p in topology.proxies if p.callee == service}
        return [
            f"{plan.service}-{plan.replica}"
            for plan in topology.processes
            if plan.service in callers
            and system.record(plan.service, plan.replica).state in (RUNNING, STARTING)
        ]

    def _delete_proxy(self, name: str) -> None:
        try:
            self.system.toxiproxy.delete_proxy(name)
        except ToxiproxyError as exc:
            if exc.status != 404:
                raise
        self.copied_disabled.discard(name)
        self.copied_toxics = {c for c in self.copied_toxics if c[0] != name}

    # -- keeping inherited faults in line -------------------------------------------------------

    def sync(self) -> None:
        """Remove inherited toxics (and re-enable proxies) whose fault left the original proxies."""
        if not self.copied_toxics and not self.copied_disabled:
            return
        with self.lock:
            client = self.system.toxiproxy
            current = client.proxies()
            for proxy, toxic in sorted(self.copied_toxics):
                originals = self._originals(current, proxy)
                if any(toxic in {t.name for t in o.toxics} for o in originals):
                    continue
                try:
                    client.remove_toxic(proxy, toxic)
                except ToxiproxyError as exc:
                    if exc.status != 404:
                        raise
                self.copied_toxics.discard((proxy, toxic))
            for proxy in sorted(self.copied_disabled):
                if any(o.enabled for o in self._originals(current, proxy)):
                    if proxy in current:
                        client.enable(proxy)
                    self.copied_disabled.discard(proxy)

    def _originals(self, current: dict[str, ProxyInfo], proxy: str) -> list[ProxyInfo]:
        edge = proxy.rpartition(".")[0]
        copies = {p for p, _ in self.copied_toxics} | self.copied_disabled
        return [
            info
            for name, info in current.items()
            if name.rpartition(".")[0] == edge and name not in copies
        ]
