"""The resolved topology of a system: every process, every proxy, the start order. Pure.

    topology = resolve_topology(spec, run_dir=run_dir, replicas={"payments": 3},
                                allocate_port=free_port)
    topology.process("payments", 1).url         # http://127.0.0.1:41002 (direct)
    topology.process("orders", 0).env["PAYMENTS_URLS"]   # the proxies orders.payments.*
    resolve_target(topology, "orders->payments").proxies  # (orders.payments.0, ...)

Every edge *caller -> callee replica* gets its own proxy `<caller>.<callee>.<replica>`;
callers see only proxy addresses. Ports come from the injected `allocate_port`, so the same
inputs give the same topology. `to_json` / `from_json` round-trip it (topology.json).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chaos.errors import ConfigInvalid
from chaos.net import LOOPBACK
from chaos.system.model import ServiceSpec, SystemSpec, urls_env
from chaos.system.target import TARGET_FORMS, FaultTarget, parse_target
from chaos.yamldoc import suggest


@dataclass(frozen=True, kw_only=True)
class ProcessPlan:
    """One process to run: a replica of a service, or an infrastructure process."""

    service: str
    replica: int
    infrastructure: bool
    port: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    health: str
    scheme: str
    data_dir: str
    log: str
    metrics: str | None
    public: bool = False

    @property
    def key(self) -> str:
        """`service/replica`, as in fault targets."""
        return f"{self.service}/{self.replica}"

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The direct base URL, e.g. http://127.0.0.1:41002 (nats://... for NATS)."""
        return f"{self.scheme}://{self.address}"


@dataclass(frozen=True, kw_only=True)
class ProxyPlan:
    """The proxy in front of one callee replica, for one caller."""

    name: str
    caller: str
    callee: str
    replica: int
    listen: str
    upstream: str
    scheme: str

    @property
    def url(self) -> str:
        """The base URL callers use, e.g. http://127.0.0.1:41001."""
        return f"{self.scheme}://{self.listen}"


@dataclass(frozen=True, kw_only=True)
class Topology:
    """Processes in start order, proxies, and the waves they start in."""

    system: str
    source: str
    root: str
    run_dir: str
    processes: tuple[ProcessPlan, ...]
    proxies: tuple[ProxyPlan, ...]
    waves: tuple[tuple[str, ...], ...]

    @property
    def services(self) -> tuple[str, ...]:
        """Every service and infrastructure name, in start order."""
        return tuple(name for wave in self.waves for name in wave)

    def replicas(self, service: str) -> tuple[ProcessPlan, ...]:
        """The processes of one service (ConfigInvalid when there is no such service)."""
        found = tuple(p for p in self.processes if p.service == service)
        if not found:
            raise ConfigInvalid(
                f"{service!r} is not a service of system {self.system!r}"
                f"{suggest(service, self.services)}; it has {', '.join(self.services)}"
            )
        return found

    def process(self, service: str, replica: int = 0) -> ProcessPlan:
        """One replica (ConfigInvalid names the valid indexes)."""
        replicas = self.replicas(service)
        if not 0 <= replica < len(replicas):
            raise ConfigInvalid(
                f"{service} has {len(replicas)} replica(s); replica {replica} does not exist "
                f"(use 0 to {len(replicas) - 1})"
            )
        return replicas[replica]

    def proxy(self, name: str) -> ProxyPlan:
        """One proxy by name."""
        for proxy in self.proxies:
            if proxy.name == name:
                return proxy
        names = [p.name for p in self.proxies]
        raise ConfigInvalid(f"no proxy named {name!r}{suggest(name, names)}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (topology.json)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Topology:
        """The inverse of `to_json`."""
        processes = tuple(
            ProcessPlan(**{**p, "argv": tuple(p["argv"]), "env": dict(p["env"])})
            for p in data["processes"]
        )
        return cls(
            system=data["system"],
            source=data["source"],
            root=data["root"],
            run_dir=data["run_dir"],
            processes=processes,
            proxies=tuple(ProxyPlan(**p) for p in data["proxies"]),
            waves=tuple(tuple(w) for w in data["waves"]),
        )


@dataclass(frozen=True)
class Resolved:
    """What a fault target stands for: proxies to fault, processes to kill or pause."""

    target: FaultTarget
    proxies: tuple[ProxyPlan, ...]
    processes: tuple[ProcessPlan, ...]

    @property
    def proxy_names(self) -> tuple[str, ...]:
        """The names of `proxies`."""
        return tuple(p.name for p in self.proxies)


def proxy_name(caller: str, callee: str, replica: int) -> str:
    """`<caller>.<callee>.<replica>`, e.g. orders.payments.1."""
    return f"{caller}.{callee}.{replica}"


def start_waves(spec: SystemSpec) -> tuple[tuple[str, ...], ...]:
    """Names grouped by depth in the dependency graph: wave N only depends on waves < N."""
    components = spec.components
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in depth:
            deps = components[name].depends_on
            depth[name] = 1 + max((level(d) for d in deps), default=-1)
        return depth[name]

    for name in components:  # load_system has rejected cycles
        level(name)
    count = max(depth.values(), default=-1) + 1
    return tuple(tuple(n for n in components if depth[n] == i) for i in range(count))


def check_replicas(spec: SystemSpec, replicas: Mapping[str, int]) -> None:
    """ConfigInvalid unless every override names a service and asks for at least one."""
    for name, count in replicas.items():
        if name in spec.infrastructure:
            raise ConfigInvalid(
                f"--replicas {name}={count}: {name} is infrastructure and runs as one process; "
                "scale a service instead"
            )
        if name not in spec.services:
            raise ConfigInvalid(
                f"--replicas {name}={count}: {name!r} is not a service"
                f"{suggest(name, spec.services)}; services: {', '.join(spec.services)}"
            )
        if count < 1:
            raise ConfigInvalid(f"--replicas {name}={count}: a service needs at least 1 replica")


def resolve_topology(
    spec: SystemSpec,
    *,
    run_dir: str | os.PathLike[str],
    allocate_port: Callable[[], int],
    replicas: Mapping[str, int] | None = None,
    python: str,
) -> Topology:
    """Lay out every process and proxy of `spec` (ports from `allocate_port`)."""
    overrides = dict(replicas or {})
    check_replicas(spec, overrides)
    run = os.fspath(run_dir)
    waves = start_waves(spec)
    components = spec.components
    counts = {n: overrides.get(n, c.replicas) for n, c in components.items()}
    ports = {
        (name, i): allocate_port() for wave in waves for name in wave for i in range(counts[name])
    }
    proxies: list[ProxyPlan] = []
    for wave in waves:
        for caller in wave:
            for callee in components[caller].depends_on:
                for i in range(counts[callee]):
                    proxies.append(
                        ProxyPlan(
                            name=proxy_name(caller, callee, i),
                            caller=caller,
                            callee=callee,
                            replica=i,
                            listen=f"{LOOPBACK}:{allocate_port()}",
                            upstream=f"{LOOPBACK}:{ports[callee, i]}",
                            scheme=components[callee].scheme,
                        )
                    )
    processes = tuple(
        process_plan(components[name], i, ports[name, i], run, proxies, python)
        for wave in waves
        for name in wave
        for i in range(counts[name])
    )
    return Topology(
        system=spec.name,
        source=spec.source,
        root=spec.root,
        run_dir=run,
        processes=processes,
        proxies=tuple(proxies),
        waves=waves,
    )


def process_plan(
    spec: ServiceSpec, replica: int, port: int, run: str, proxies: Iterable[ProxyPlan], python: str
) -> ProcessPlan:
    """The process of one replica; its `<DEP>_URLS` list the proxies in `proxies` it calls."""
    data_dir = os.path.join(run, "data", spec.name)
    values = {
        "port": port,
        "data": data_dir,
        "python": python,
        "name": spec.name,
        "replica": replica,
    }
    env: dict[str, str] = {}
    for dep in spec.depends_on:
        urls = [p.url for p in proxies if p.caller == spec.name and p.callee == dep]
        env[urls_env(dep)] = ",".join(urls)
    env.update(
        {
            "GAMEDAY_SERVICE": spec.name,
            "GAMEDAY_REPLICA": str(replica),
            "GAMEDAY_DATA_DIR": data_dir,
            "GAMEDAY_RUN_DIR": run,
            "GAMEDAY_TRACES_DIR": os.path.join(run, "traces"),
            "OTEL_SERVICE_NAME": spec.name,
            "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={spec.name}-{replica}",
        }
    )
    env.update(spec.env)
    return ProcessPlan(
        service=spec.name,
        replica=replica,
        infrastructure=spec.infrastructure,
        port=port,
        argv=tuple(word.format(**values) for word in spec.command),
        env=env,
        health=spec.health,
        scheme=spec.scheme,
        data_dir=data_dir,
        log=os.path.join(run, "logs", f"{spec.name}-{replica}.log"),
        metrics=spec.metrics,
        public=spec.public,
    )


def resolve_target(topology: Topology, target: FaultTarget | str) -> Resolved:
    """The proxies and processes a target stands for; ConfigInvalid names what exists."""
    if isinstance(target, str):
        try:
            target = parse_target(target)
        except ValueError as exc:
            raise ConfigInvalid(str(exc)) from None
    processes = topology.replicas(target.service)
    to_callee = [p for p in topology.proxies if p.callee == target.service]
    if target.kind == "service":
        return Resolved(target, tuple(to_callee), processes)
    if target.kind == "replica":
        process = topology.process(target.service, target.replica or 0)
        chosen = tuple(p for p in to_callee if p.replica == process.replica)
        return Resolved(target, chosen, (process,))
    edge = tuple(p for p in to_callee if p.caller == target.caller)
    if not edge:
        callers = sorted({p.caller for p in to_callee})
        edges = ", ".join(f"{c}->{target.service}" for c in callers) or "none"
        raise ConfigInvalid(
            f"there is no edge {target}: no service calls {target.service} from "
            f"{target.caller!r} (edges into {target.service}: {edges}); target one of those, "
            f"or write {TARGET_FORMS}"
        )
    return Resolved(target, edge, ())


def file_sd_targets(topology: Topology, extra: Iterable[ProcessPlan] = ()) -> list[dict[str, Any]]:
    """Prometheus file_sd target groups: one per process serving metrics (`extra` too)."""
    return [
        {
            "targets": [p.address],
            "labels": {
                "system": topology.system,
                "service": p.service,
                "replica": str(p.replica),
                "__metrics_path__": p.metrics,
            },
        }
        for p in (*topology.processes, *extra)
        if p.metrics is not None
    ]
