"""Running a whole system locally: `start_system` and the `RunningSystem` it yields.

    with start_system("sample_system/system.yaml", replicas={"payments": 2}) as system:
        system.url("gateway")                      # direct base URL of gateway replica 0
        system.toxiproxy.disable("orders.payments.0")
        system.kill("payments", 0, restart=True)   # the supervisor restarts it with backoff
        system.pause("payments", 1); system.resume("payments", 1)
        system.wait_healthy("payments", 0, timeout=30)

Start order: the fault proxy, every infrastructure process and the services without
dependencies first; the proxies are created once the fault proxy answers; then each wave of
services once the waves they depend on are ready. Everything stops on leaving the block,
whatever happened inside it; startup failures stop what had been started and name the
service and the tail of its log.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos import watchdog
from chaos.errors import ConfigInvalid, RuntimeFailure
from chaos.proxy.client import ProxySpec, ToxiproxyClient
from chaos.runtime import prometheus as prom
from chaos.runtime.autoscaler import Autoscaler
from chaos.runtime.control import ControlServer
from chaos.runtime.events import Event, EventLog
from chaos.runtime.health import describe, probe, wait_ready
from chaos.runtime.preparation import (
    PROXY_NAME,
    PortAllocator,
    base_env,
    check_programs,
    default_run_dir,
    proxy_plan,
)
from chaos.runtime.process import Child, stop_groups, tail
from chaos.runtime.registry import Registry
from chaos.runtime.scaler import Scaler
from chaos.runtime.secret import SECRET_ENV, new_secret
from chaos.runtime.supervisor import BACKOFF, PAUSED, RUNNING, STOPPED, Backoff, Replica, Supervisor
from chaos.system.model import SystemSpec, load_system
from chaos.system.topology import ProcessPlan, Topology, file_sd_targets, resolve_topology

REGISTRY_ENV = "GAMEDAY_REGISTRY_URL"


@dataclass(frozen=True)
class ReplicaStatus:
    """What one process is doing now."""

    service: str
    replica: int
    role: str  # service | infrastructure | gameday
    pid: int | None
    start_time: int | None
    port: int
    url: str
    health: str
    state: str
    restarts: int
    log: str


class RunningSystem:
    """A started system: addresses, the Toxiproxy client, and kill/pause/start per replica."""

    def __init__(
        self,
        spec: SystemSpec,
        topology: Topology,
        *,
        extras: list[ProcessPlan],
        backoff: Backoff,
        ready_timeout: float,
        stop_timeout: float,
        ports: PortAllocator | None = None,
        autoscale: bool = True,
    ) -> None:
        self.spec = spec
        self.topology = topology
        self.ports = ports or PortAllocator()
        self.registry = Registry(topology)
        self.scaler = Scaler(self)
        self.control = ControlServer(self.ports(), self.registry, self)
        self.run_dir = Path(topology.run_dir)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.events = EventLog(self.run_dir / "events.jsonl")
        self.env = base_env(topology.root)
        self._secret = new_secret(self.run_dir)  # services only: see chaos/runtime/secret.py
        # Should this process die (even by SIGKILL), the watchdog stops every process of
        # the run: each one carries GAMEDAY_RUN_DIR, and each group is registered at spawn.
        self.watchdog = watchdog.current()
        self._watched: dict[tuple[str, int], str] = {
            ("", -1): self.watchdog.watch_env(
                "GAMEDAY_RUN_DIR", str(self.run_dir), log=str(self.run_dir / "watchdog.log")
            )
        }
        proxy = next(p for p in extras if p.service == PROXY_NAME)
        self.toxiproxy = ToxiproxyClient(proxy.url)
        self._replicas: dict[tuple[str, int], Replica] = {}
        for plan in (*extras, *topology.processes):
            hook = self._populate if plan.service == PROXY_NAME else None
            self._replicas[plan.service, plan.replica] = Replica(Child(plan), on_ready=hook)
        self.supervisor = Supervisor(
            list(self._replicas.values()),
            self._spawn,
            self.events,
            backoff,
            ready_timeout=ready_timeout,
        )
        self.prometheus_url = next((p.url for p in extras if p.service == prom.NAME), None)
        self._extra_plans = list(extras)
        self.autoscaler = Autoscaler(self, enabled=autoscale)

    def __repr__(self) -> str:
        return f"RunningSystem({self.topology.system!r}, run_dir={str(self.run_dir)!r})"

    # -- addresses ----------------------------------------------------------------------------

    def url(self, service: str, replica: int = 0) -> str:
        """Direct base URL of one replica (no proxy in between)."""
        return self.topology.process(service, replica).url

    def urls(self, service: str) -> list[str]:
        """Direct base URLs of every replica of a service."""
        return [p.url for p in self.topology.replicas(service)]

    def proxy_urls(self, caller: str, callee: str) -> list[str]:
        """What `caller` gets in `<CALLEE>_URLS`: the proxies in front of each callee replica."""
        return [p.url for p in self.topology.proxies if p.caller == caller and p.callee == callee]

    @property
    def control_url(self) -> str:
        """Base URL of the runtime's registry and control endpoint (GAMEDAY_REGISTRY_URL)."""
        return self.control.url

    @property
    def toxiproxy_url(self) -> str:
        """Base URL of the fault proxy's API."""
        return self.toxiproxy.url

    # -- processes ----------------------------------------------------------------------------

    def _replica(self, service: str, replica: int) -> Replica:
        found = self._replicas.get((service, replica))
        if found is None:
            self.topology.process(service, replica)  # raises ConfigInvalid naming the choices
            raise ConfigInvalid(f"no process {service}/{replica}")
        return found

    def replicas(self, service: str) -> int:
        """How many replicas of `service` run now."""
        return len(self.topology.replicas(service))

    def scale(self, service: str, replicas: int) -> dict[str, Any]:
        """Run `replicas` replicas of `service` from now on (see chaos.runtime.scaler)."""
        return self.scaler.scale(service, replicas)

    def record(self, service: str, replica: int) -> Replica:
        """The supervisor's record of one process."""
        return self._replica(service, replica)

    def adopt(self, record: Replica) -> None:
        """Supervise a replica added by scaling (spawned and ready)."""
        plan = record.child.plan
        with self.supervisor.lock:
            self._replicas[plan.service, plan.replica] = record
        self.supervisor.adopt(record)

    def forget(self, record: Replica) -> None:
        """Drop a replica removed by scaling (already stopped)."""
        plan = record.child.plan
        with self.supervisor.lock:
            self._replicas.pop((plan.service, plan.replica), None)

    def apply_topology(self, topology: Topology) -> int:
        """Run with `topology` from now on: callers' plans, files, the registry; its version."""
        with self.supervisor.lock:
            for plan in topology.processes:
                record = self._replicas.get((plan.service, plan.replica))
                if record is not None:
                    record.child.plan = plan  # a restart gets the current <DEP>_URLS
            self.topology = topology
        self._write_files()
        return self.registry.update(topology)

    def _write_files(self) -> None:
        (self.run_dir / "topology.json").write_text(
            json.dumps(
                {
                    **self.topology.to_json(),
                    "toxiproxy": self.toxiproxy_url,
                    "prometheus": self.prometheus_url,
                    "control": self.control_url,
                },
                indent=2,
            )
            + "\n"
        )
        prom.write_targets(self.run_dir, file_sd_targets(self.topology, self._extra_plans))

    def pid(self, service: str, replica: int = 0) -> int | None:
        """PID (and process group) of a replica's current life; None while it is down."""
        record = self._replica(service, replica)
        with self.supervisor.lock:
            return record.child.pid if record.state not in (BACKOFF, STOPPED) else None

    def state(self, service: str, replica: int = 0) -> str:
        """starting, running, paused, backoff or stopped."""
        return self._replica(service, replica).state

    def restarts(self, service: str, replica: int = 0) -> int:
        """How many times the supervisor (or `start`) has spawned this replica again."""
        return self._replica(service, replica).restarts

    def kill(self, service: str, replica: int = 0, *, restart: bool = True) -> None:
        """SIGKILL the replica's process group; restart=False keeps it down until `start`."""
        self.supervisor.kill(self._replica(service, replica), restart=restart)

    def start(self, service: str, replica: int = 0, *, timeout: float | None = None) -> None:
        """Start a stopped (or backing-off) replica now and wait until it is healthy."""
        self.supervisor.request_start(self._replica(service, replica))
        self.wait_healthy(service, replica, timeout=timeout or self.ready_timeout)

    def pause(self, service: str, replica: int = 0) -> None:
        """SIGSTOP the replica's process group (it keeps its sockets; nothing answers)."""
        self.supervisor.pause(self._replica(service, replica))

    def resume(self, service: str, replica: int = 0) -> None:
        """SIGCONT a paused replica."""
        self.supervisor.resume(self._replica(service, replica))

    def wait_healthy(self, service: str, replica: int = 0, timeout: float = 30.0) -> None:
        """Wait until the replica runs and its readiness probe passes; RuntimeFailure if not."""
        record = self._replica(service, replica)
        plan = record.child.plan
        deadline = time.monotonic() + timeout
        seen = "not probed yet"
        while True:
            state = record.state
            if state in (STOPPED, PAUSED):
                how = "start" if state == STOPPED else "resume"
                raise RuntimeFailure(
                    f"{describe(plan)} is {state}, so it cannot become healthy; call "
                    f"system.{how}({service!r}, {replica}) first"
                )
            if state == RUNNING:
                ok, seen = probe(plan, timeout=min(1.0, max(0.05, deadline - time.monotonic())))
                if ok:
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeFailure(
                    f"{describe(plan)} was not healthy within {timeout:.0f}s (state {state}, "
                    f"restarts {record.restarts}, last probe: {seen}); last lines of "
                    f"{plan.log}:\n{tail(plan.log)}"
                )
            self.supervisor.wait_for(lambda: False, min(left, 0.05))

    def status(self) -> list[ReplicaStatus]:
        """Every process: gameday's own, infrastructure, then services in start order."""
        rows = []
        with self.supervisor.lock:
            for record in self._replicas.values():
                plan = record.child.plan
                role = (
                    "gameday"
                    if plan.service in (PROXY_NAME, prom.NAME)
                    else "infrastructure"
                    if plan.infrastructure
                    else "service"
                )
                down = record.state in (BACKOFF, STOPPED)
                rows.append(
                    ReplicaStatus(
                        service=plan.service,
                        replica=plan.replica,
                        role=role,
                        pid=None if down else record.child.pid,
                        start_time=None if down else record.child.started,
                        port=plan.port,
                        url=plan.url,
                        health=plan.health,
                        state=record.state,
                        restarts=record.restarts,
                        log=plan.log,
                    )
                )
        return rows

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready picture of the run (the state file's body)."""
        return {
            "system": self.topology.system,
            "system_file": str(Path(self.topology.source).resolve()),
            "run_dir": str(self.run_dir),
            "toxiproxy": self.toxiproxy_url,
            "prometheus": self.prometheus_url,
            "control": self.control_url,
            "watchdog": self.watchdog.pid,
            "processes": [vars(row) for row in self.status()],
            "proxies": [
                {"name": p.name, "listen": p.listen, "upstream": p.upstream, "url": p.url}
                for p in self.topology.proxies
            ],
        }

    # -- life cycle ---------------------------------------------------------------------------

    def spawn(self, child: Child) -> int:
        """Start one process with the run's environment (and the registry's address); the
        watchdog is told its process group, so it goes even if this process dies."""
        env = {**self.env, **child.plan.env, REGISTRY_ENV: self.control_url}
        if not child.plan.infrastructure:
            env[SECRET_ENV] = self._secret
        pid = child.spawn(env, cwd=self.topology.root)
        key = (child.plan.service, child.plan.replica)
        previous = self._watched.get(key)
        self._watched[key] = self.watchdog.watch_group(pid, child.started)
        if previous is not None:
            self.watchdog.forget(previous)
        return pid

    _spawn = spawn

    def _populate(self) -> None:
        self.toxiproxy.populate(
            [ProxySpec(p.name, p.upstream, listen=p.listen) for p in self.topology.proxies]
        )

    def _boot(self) -> None:
        self.control.start()
        system = self._system_replicas()
        waves = [
            [r for r in system if r.child.plan.service in names] for names in self.topology.waves
        ]
        waves[0][:0] = [self._replicas[p.service, p.replica] for p in self._extras()]
        for wave in waves:
            for record in wave:
                pid = self._spawn(record.child)
                self.events.emit("started", *_who(record), pid=pid)
            deadline = time.monotonic() + self.ready_timeout
            for record in wave:
                wait_ready(record.child, timeout=max(0.1, deadline - time.monotonic()))
                if record.on_ready is not None:
                    record.on_ready()
                self.supervisor.mark_started(record)
                self.events.emit("ready", *_who(record), pid=record.child.pid)
        self.supervisor.start()
        self.autoscaler.start()

    def _extras(self) -> list[ProcessPlan]:
        keys = {(p.service, p.replica) for p in self.topology.processes}
        return [r.child.plan for k, r in self._replicas.items() if k not in keys]

    def _system_replicas(self) -> list[Replica]:
        return [self._replicas[p.service, p.replica] for p in self.topology.processes]

    def close(self) -> None:
        """Stop everything: services (callers first), gameday's own processes, infrastructure."""
        self.autoscaler.stop()
        self.supervisor.stop()
        services = self._system_replicas()
        batches: list[list[Replica]] = [
            [
                r
                for r in services
                if r.child.plan.service in wave and not r.child.plan.infrastructure
            ]
            for wave in reversed(self.topology.waves)
        ]
        batches.append([self._replicas[p.service, p.replica] for p in self._extras()])
        batches.append([r for r in services if r.child.plan.infrastructure])
        survivors: list[int] = []
        for batch in batches:
            spawned = [r for r in batch if r.child.popen is not None]
            survivors += stop_groups(
                [r.child.pid for r in spawned if r.child.pid], self.stop_timeout
            )
            for record in spawned:
                record.child.reap()
                if record.state != STOPPED:
                    self.supervisor.stopped(record)
        self.control.stop()
        if survivors:
            raise RuntimeFailure(f"processes {survivors} survived SIGKILL; check them with ps")
        self.watchdog.forget(*self._watched.values())
        self._watched.clear()


def _who(record: Replica) -> tuple[str, int]:
    return record.child.plan.service, record.child.plan.replica


@contextlib.contextmanager
def start_system(
    system: str | os.PathLike[str] | SystemSpec,
    *,
    run_dir: str | os.PathLike[str] | None = None,
    replicas: Mapping[str, int] | None = None,
    prometheus: bool = False,
    ready_timeout: float = 60.0,
    stop_timeout: float = 10.0,
    backoff: Backoff | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[RunningSystem], None] | None = None,
    autoscale: bool = True,
) -> Iterator[RunningSystem]:
    """Start every process of a system, yield it running, stop everything on exit.

    `system` is a system-file path or a loaded SystemSpec; `run_dir` defaults to
    `.gameday/runs/<system>-<time>-<pid>`; `replicas` overrides replica counts. `on_start`
    gets the RunningSystem before the first process starts and `on_event` every event (both
    feed the state file of `gameday up`). `autoscale=False` leaves the system file's
    `autoscale:` policies off (replica counts change only when asked).
    """
    spec = system if isinstance(system, SystemSpec) else load_system(os.fspath(system))
    prometheus_binary = prom.find_binary() if prometheus else None
    run = Path(run_dir if run_dir is not None else default_run_dir(spec.name)).resolve()
    ports = PortAllocator()
    topology = resolve_topology(
        spec, run_dir=run, allocate_port=ports, replicas=replicas, python=sys.executable
    )
    check_programs(spec, topology, base_env(spec.root))
    run.mkdir(parents=True, exist_ok=True)
    extras = [proxy_plan(run, ports())]
    if prometheus_binary is not None:
        rules = prom.game_day_rules(Path(spec.root))
        extras.append(prom.plan(prometheus_binary, run, ports(), rules=rules))
    running = RunningSystem(
        spec,
        topology,
        extras=extras,
        backoff=backoff or Backoff(),
        ready_timeout=ready_timeout,
        stop_timeout=stop_timeout,
        ports=ports,
        autoscale=autoscale,
    )
    running._write_files()
    if on_event is not None:
        running.events.listeners.append(on_event)
    try:
        if on_start is not None:
            on_start(running)
        running._boot()
        yield running
    finally:
        running.close()
