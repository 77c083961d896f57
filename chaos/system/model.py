"""The system file: typed records, and `load_system` (reading in chaos/system/file.py).

    spec = load_system("sample_system/system.yaml")
    spec.services["payments"].replicas          # 2
    spec.services["orders"].depends_on          # ("inventory", "payments", "nats")
    spec.infrastructure["nats"].health          # "tcp"

Every error is a SystemFileInvalid naming file:line, the offending value and what to write
instead. The format is described in docs/system-file.md; journeys use the SLO keys of
`loadtests.slo` and are validated by it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import ConfigInvalid
from chaos.system.target import FaultTarget
from chaos.yamldoc import suggest
from loadtests.slo import SloSpec

AUTOSCALE_METRICS = ("busy", "cpu", "in_flight")


@dataclass(frozen=True, kw_only=True)
class Autoscale:
    """A service's autoscaling policy, decided like the Kubernetes HPA (chaos.runtime.hpa).

    `metric` is averaged over the service's replicas: `busy` (fraction of its concurrency
    limit in use, 0-1), `cpu` (CPU cores used per replica) or `in_flight` (requests in flight
    per replica); `target` is the value per replica to hold. `scale_up_after` and
    `scale_down_after` are the stabilisation windows (seconds); `tolerance` the dead band.
    """

    min: int
    max: int
    metric: str
    target: float
    scale_up_after: float = 0.0
    scale_down_after: float = 300.0
    tolerance: float = 0.1
    where: str = "<memory>"


@dataclass(frozen=True)
class JourneyLoad:
    """How to load one journey on its own: its open-model user class and its rate variable."""

    user_class: str
    rate_env: str


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """A service or an infrastructure process, as written in the system file."""

    name: str
    command: tuple[str, ...]
    replicas: int = 1
    health: str = "/readyz"
    depends_on: tuple[str, ...] = ()
    public: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    metrics: str | None = "/metrics"
    scheme: str = "http"
    infrastructure: bool = False
    autoscale: Autoscale | None = None
    where: str = "<memory>"

    @property
    def section(self) -> str:
        """`services.<name>` or `infrastructure.<name>`, as in error messages."""
        return f"{'infrastructure' if self.infrastructure else 'services'}.{self.name}"


@dataclass(frozen=True)
class FaultSpec:
    """The fault of an expectation: a target, a kind (`down`, `latency`, ...) and parameters."""

    target: FaultTarget
    kind: str
    params: Mapping[str, object]
    where: str


@dataclass(frozen=True)
class Expectation:
    """An isolation claim: under `fault`, these journeys hold and those may degrade."""

    fault: FaultSpec
    unaffected: tuple[str, ...]
    degraded: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class LoadProfile:
    """How the load is generated: a locustfile and its shape."""

    locustfile: Path
    users: int
    spawn_rate: float
    shape: str = "steady"
    options: Mapping[str, str] = field(default_factory=dict)
    processes: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    journeys: Mapping[str, JourneyLoad] = field(default_factory=dict)  # one journey alone


@dataclass(frozen=True)
class Invariants:
    """A command checking the system's invariants (exit 0 when they hold).

    `under_load` is the command to use while load still runs (the matrix checks after
    faults that can touch data, mid-run); `after` names the fault kinds and services whose
    faults can touch data, so the matrix checks after each of them.
    """

    command: str
    timeout: float = 60.0
    under_load: str | None = None
    after: tuple[str, ...] = ("kill",)

    def checked_after(self, kind: str, service: str) -> bool:
        """True when a fault of `kind` on `service` can touch data (check the invariants)."""
        return kind in self.after or service in self.after


# The fault kinds of the fault-isolation matrix (docs/matrix.md), and its default set.
MATRIX_FAULTS = ("down", "latency", "slow", "reset_peer", "pause", "kill", "hostile_input")
DEFAULT_MATRIX_FAULTS = ("down", "latency", "slow", "reset_peer", "pause", "kill", "hostile_input")


@dataclass(frozen=True, kw_only=True)
class HostileInput:
    """How the `hostile_input` fault fuzzes the entry point: its OpenAPI document and a rate."""

    openapi: str = "/openapi.json"  # path of the OpenAPI document on the public service
    rate: float = 10.0  # hostile requests per second, at most
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. an API key
    burst: int = 8  # each round's latest 404/409/410 refusal, sent again this many times at once


@dataclass(frozen=True, kw_only=True)
class MatrixSettings:
    """The `matrix:` section: fault set, timing and tolerances of `gameday matrix`/`ci`."""

    faults: tuple[str, ...] = DEFAULT_MATRIX_FAULTS
    warmup: float = 5.0
    baseline: float = 15.0
    window: float = 3.0  # each cell's fault window, whole seconds
    recover_within: float = 20.0  # a cell not back within SLO after this fails (and restarts)
    settle: float = 1.0  # whole seconds back within SLO that count as recovered
    latency_ms: int = 1500  # `latency`: beyond every caller's timeout
    slow_ms: int = 250  # `slow`: a gray failure, under the callers' timeouts
    deadlines: Mapping[str, float] = field(default_factory=dict)  # journey -> ms (degraded p95)
    trace_ratio: float = 0.2  # share of the load's requests traced (call graphs, slow traces)
    latency_tolerance: float = 1.5  # p95 ratio an unaffected journey may reach
    median_tolerance: float = 1.25  # p50 ratio: the median is steadier, and moves first
    error_tolerance: float = 0.02  # error-rate increase an unaffected journey may show
    false_discovery_rate: float = 0.01  # Benjamini-Hochberg level over every comparison
    hostile_input: HostileInput = field(default_factory=HostileInput)


@dataclass(frozen=True, kw_only=True)
class SystemSpec:
    """A whole system file: services, infrastructure, journeys (SLOs) and expectations."""

    name: str
    source: str
    root: str
    services: Mapping[str, ServiceSpec]
    infrastructure: Mapping[str, ServiceSpec] = field(default_factory=dict)
    slo: SloSpec | None = None
    expectations: tuple[Expectation, ...] = ()
    load: LoadProfile | None = None  # how gameday loads it (matrix, ci, the pytest plugin)
    invariants: Invariants | None = None  # a command checking its invariants
    matrix: MatrixSettings = field(default_factory=MatrixSettings)

    @property
    def components(self) -> dict[str, ServiceSpec]:
        """Infrastructure then services, by name."""
        return {**self.infrastructure, **self.services}

    @property
    def autoscaled(self) -> dict[str, Autoscale]:
        """The services with an autoscaling policy, by name."""
        return {n: s.autoscale for n, s in self.services.items() if s.autoscale is not None}

    @property
    def journeys(self) -> tuple[str, ...]:
        """The journeys named under `journeys:` (empty when there is none)."""
        return self.slo.named_journeys if self.slo is not None else ()

    @property
    def public(self) -> tuple[str, ...]:
        """The entry points (`public: true`), where load and hostile input are sent."""
        return tuple(name for name, s in self.services.items() if s.public)

    def callers(self, name: str) -> tuple[str, ...]:
        """The services that list `name` under depends_on (through a proxy each)."""
        return tuple(s.name for s in self.services.values() if name in s.depends_on)

    def component(self, name: str) -> ServiceSpec:
        """A service or infrastructure process by name; ConfigInvalid names the choices."""
        found = self.components.get(name)
        if found is None:
            known = ", ".join(self.components)
            raise ConfigInvalid(
                f"{name!r} is not a service of system {self.name!r}"
                f"{suggest(name, self.components)}; it has {known}"
            )
        return found


def project_root(path: Path) -> Path:
    """The nearest directory above `path` holding pyproject.toml, setup.py or .git."""
    start = path.resolve().parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ("pyproject.toml", "setup.py", ".git")):
            return folder
    return start


def env_name(service: str) -> str:
    """A name as variables spell it: upper-cased, `-` as `_` (reviews-db: REVIEWS_DB)."""
    return service.upper().replace("-", "_")


def urls_env(service: str) -> str:
    """`<NAME>_URLS`: the variable that lists a dependency's addresses."""
    return f"{env_name(service)}_URLS"


def load_system(path: str | os.PathLike[str]) -> SystemSpec:
    """Read and validate a system file; raises SystemFileInvalid naming file:line and the fix."""
    from chaos.system.file import read_system_file  # the reader builds the records above

    return read_system_file(Path(path))


def parse_system(text: str, *, source: str = "<string>", root: Path | None = None) -> SystemSpec:
    """Validate system-file `text`; errors name `source`:line."""
    from chaos.system.file import parse_system_text

    return parse_system_text(text, source=source, root=root)


def target_problem(spec: SystemSpec, target: FaultTarget, replicas: int | None = None) -> str:
    """Why `target` names nothing in `spec` ('' when it is fine); `replicas` overrides the count."""
    components = spec.components
    if target.service not in components:
        return (
            f"{target.service!r} is not a service{suggest(target.service, components)}; "
            f"known: {', '.join(components)}"
        )
    callee = components[target.service]
    if target.kind == "replica":
        count = replicas if replicas is not None else callee.replicas
        if target.replica is None or target.replica >= count:
            return (
                f"{target.service} has {count} replica(s), numbered from 0; "
                f"write {target.service}/0 to {target.service}/{count - 1}"
            )
    if target.kind == "edge":
        caller = spec.services.get(target.caller or "")
        if caller is None:
            return (
                f"caller {target.caller!r} is not a service"
                f"{suggest(target.caller or '', spec.services)}; known: {', '.join(spec.services)}"
            )
        if target.service not in caller.depends_on:
            deps = ", ".join(caller.depends_on) or "nothing"
            return (
                f"{caller.name} does not depend on {target.service} (it depends on {deps}); "
                "an edge must follow depends_on"
            )
    return ""


def find_cycle(graph: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A dependency cycle as [a, b, ..., a], or [] when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []
