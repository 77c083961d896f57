"""Changing a service's replica count in a resolved topology, and what new proxies inherit. Pure.

    bigger = grow(topology, spec, "payments", 3, allocate_port=ports, python=sys.executable)
    smaller = shrink(bigger, "payments", 1)

A new replica gets the next index, a free port, and one proxy per calling service
(`<caller>.<service>.<index>`); the callers' `<SERVICE>_URLS` are rewritten so a caller that
restarts starts with the current membership (running callers follow the registry). Removing
takes the highest indexes first.

A proxy created while a fault is on must not be a way around it: `inherited` tells what it
takes from the other proxies of its edge — disabled when all of them are, and every toxic
all of them carry (a fault on the service or the edge; a fault on one replica is on one
proxy of the edge only, and is not copied).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from chaos.errors import ConfigInvalid
from chaos.net import LOOPBACK
from chaos.proxy.client import ProxyInfo, ToxicInfo
from chaos.system.model import SystemSpec, urls_env
from chaos.system.topology import ProcessPlan, ProxyPlan, Topology, process_plan, proxy_name
from chaos.yamldoc import suggest


def check_scalable(spec: SystemSpec, service: str, count: int) -> None:
    """ConfigInvalid unless `service` is a service and `count` >= 1."""
    if service in spec.infrastructure:
        raise ConfigInvalid(f"{service} is infrastructure and runs as one process; scale a service")
    if service not in spec.services:
        raise ConfigInvalid(
            f"{service!r} is not a service{suggest(service, spec.services)}; "
            f"services: {', '.join(spec.services)}"
        )
    if count < 1:
        raise ConfigInvalid(f"{service}={count}: a service needs at least 1 replica")


def _rewire(topology: Topology, service: str, proxies: Sequence[ProxyPlan]) -> list[ProcessPlan]:
    """Processes with every caller's `<SERVICE>_URLS` listing `proxies` of that caller."""
    variable = urls_env(service)
    rewired = []
    for plan in topology.processes:
        if variable in plan.env and any(p.caller == plan.service for p in proxies):
            urls = ",".join(p.url for p in proxies if p.caller == plan.service)
            plan = dataclasses.replace(plan, env={**plan.env, variable: urls})
        rewired.append(plan)
    return rewired


def grow(
    topology: Topology,
    spec: SystemSpec,
    service: str,
    count: int,
    *,
    allocate_port: Callable[[], int],
    python: str,
) -> Topology:
    """`topology` with `service` at `count` replicas (count above the current one)."""
    current = topology.replicas(service)
    component = spec.services[service]
    callers = [c for c in topology.services if service in spec.component(c).depends_on]
    proxies = list(topology.proxies)
    added: list[ProcessPlan] = []
    for index in range(len(current), count):
        port = allocate_port()
        for caller in callers:
            proxies.append(
                ProxyPlan(
                    name=proxy_name(caller, service, index),
                    caller=caller,
                    callee=service,
                    replica=index,
                    listen=f"{LOOPBACK}:{allocate_port()}",
                    upstream=f"{LOOPBACK}:{port}",
                    scheme=component.scheme,
                )
            )
        added.append(process_plan(component, index, port, topology.run_dir, proxies, python))
    edge_order = {name: i for i, name in enumerate(topology.services)}
    proxies.sort(key=lambda p: (edge_order[p.caller], edge_order[p.callee], p.replica))
    grown = dataclasses.replace(topology, proxies=tuple(proxies))
    processes = _rewire(grown, service, proxies)
    last = max(i for i, p in enumerate(processes) if p.service == service)
    processes[last + 1 : last + 1] = added
    return dataclasses.replace(grown, processes=tuple(processes))


def shrink(topology: Topology, service: str, count: int) -> Topology:
    """`topology` with `service` at `count` replicas (count below the current one)."""
    topology.replicas(service)
    proxies = tuple(p for p in topology.proxies if not (p.callee == service and p.replica >= count))
    kept = dataclasses.replace(
        topology,
        processes=tuple(
            p for p in topology.processes if not (p.service == service and p.replica >= count)
        ),
        proxies=proxies,
    )
    return dataclasses.replace(kept, processes=tuple(_rewire(kept, service, proxies)))


def inherited(edge: Sequence[ProxyInfo]) -> tuple[bool, tuple[ToxicInfo, ...]]:
    """(enabled, toxics) for a new proxy of an edge whose other proxies are `edge`."""
    if not edge:
        return True, ()
    enabled = any(p.enabled for p in edge)
    names = set.intersection(*({t.name for t in p.toxics} for p in edge))
    shared = tuple(t for t in edge[0].toxics if t.name in names)
    return enabled, shared
