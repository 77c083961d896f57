"""What the rules and boards are made of: journeys as SLIs, edges, and the evaluation profiles.

    model = load_model(Path("dashboards/slis.yaml"))   # + the system file it names
    model.journeys[0]           # Journey('browse', service='gateway', routes=..., ...)
    model.edges                 # (Edge('gateway', 'catalog'), ...) from depends_on
    GAMEDAY.window(3600)        # '30s': one game-day second stands for 120 production ones

A journey's SLIs are measured where users meet the system: the requests its entry point
serves (`http_server_request_duration_seconds{service=<entry>}`) on the journey's routes.
Its targets come from the system file: `error_rate: 2%` is an availability SLO of 98 %, and
`p95: 800ms` a latency SLO "95 % of requests within the smallest histogram bucket >= 800 ms"
(1 s; histograms only count at bucket boundaries, so the threshold is rounded up — never
paging for a journey that meets its SLO).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from chaos.system.model import SystemSpec, load_system

# The server histogram's buckets (instrumentation: OpenTelemetry's advisory boundaries).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_ROUTE = re.compile(r"^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) (/\S*)$")


class ModelInvalid(ValueError):
    """slis.yaml does not match the system file; the message names the value and the fix."""


@dataclass(frozen=True)
class Route:
    """One (method, route template) of the entry point."""

    method: str
    route: str

    def selector(self, service: str) -> str:
        """The label matchers of this route's series."""
        return (
            f'service="{service}", http_request_method="{self.method}", http_route="{self.route}"'
        )


@dataclass(frozen=True)
class Journey:
    """A user-facing flow with its two SLOs."""

    name: str
    service: str
    routes: tuple[Route, ...]
    availability: float  # objective, e.g. 0.98
    latency_objective: float | None  # e.g. 0.95 for a p95 target
    latency_threshold: float | None  # seconds, a bucket boundary

    @property
    def slis(self) -> tuple[str, ...]:
        """`availability`, plus `latency` when the journey has a latency target."""
        return ("availability", "latency") if self.latency_objective else ("availability",)

    def budget(self, sli: str) -> float:
        """The error budget of an SLI: the fraction of requests allowed to be bad."""
        if sli == "availability":
            return 1.0 - self.availability
        assert self.latency_objective is not None
        return 1.0 - self.latency_objective

    def objective(self, sli: str) -> float:
        """The SLO of an SLI as a fraction of good requests."""
        return 1.0 - self.budget(sli)


@dataclass(frozen=True)
class Edge:
    """A caller -> callee dependency (HTTP or a broker) from the system file."""

    caller: str
    callee: str
    broker: bool  # infrastructure with a non-HTTP scheme (NATS): no HTTP client metrics
    latency_threshold: float


@dataclass(frozen=True)
class Model:
    """Everything rules and boards are generated from."""

    system: SystemSpec
    entry: str
    journeys: tuple[Journey, ...]
    edges: tuple[Edge, ...]
    outbox: tuple[str, ...] = ()  # services exporting outbox_* (a transactional outbox)

    @property
    def services(self) -> tuple[str, ...]:
        """Services serving HTTP metrics (infrastructure excluded), in file order."""
        return tuple(name for name, s in self.system.services.items() if s.metrics)


@dataclass(frozen=True)
class Profile:
    """How time is scaled: production (1:1) or a game day (every window divided by `speedup`).

    A window never gets shorter than `min_window_s` (four scrapes, so rate() has points to
    work with) and a `for:` never shorter than `min_for_s`.
    """

    name: str
    speedup: float
    scrape_interval_s: float
    evaluation_interval_s: float
    min_window_s: float
    min_for_s: float

    def window(self, production_s: float) -> str:
        """A range-vector window for a production window of `production_s` seconds."""
        return duration(max(production_s / self.speedup, self.min_window_s))

    def hold(self, production_s: float) -> str:
        """A `for:` duration for a production `for:` of `production_s` seconds."""
        return duration(max(production_s / self.speedup, self.min_for_s))


PRODUCTION = Profile("production", 1.0, 30.0, 30.0, 60.0, 0.0)
GAMEDAY = Profile("gameday", 120.0, 1.0, 1.0, 4.0, 1.0)
PROFILES = (PRODUCTION, GAMEDAY)


def duration(seconds: float) -> str:
    """Prometheus duration for whole seconds: 3600 -> '1h', 90 -> '90s', 2.5 -> '3s'."""
    whole = max(1, math.ceil(seconds - 1e-9))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def threshold_bucket(seconds: float) -> float:
    """The smallest histogram bucket boundary >= `seconds` (the latency SLI's threshold)."""
    for bound in BUCKETS:
        if bound >= seconds - 1e-12:
            return bound
    raise ModelInvalid(
        f"latency target {seconds * 1000:.0f}ms is above the largest bucket ({BUCKETS[-1]}s); "
        "lower the journey's percentile target"
    )


def load_model(slis_file: Path) -> Model:
    """Read slis.yaml and the system file it names; every journey must have its routes."""
    raw = yaml.safe_load(slis_file.read_text())
    system = load_system(slis_file.parent / raw["system"])
    entry = str(raw["service"])
    if entry not in system.services:
        raise ModelInvalid(f"{slis_file}: service {entry!r} is not a service of {system.source}")
    listed: dict[str, list[str]] = raw.get("journeys") or {}
    missing = [j for j in system.journeys if j not in listed]
    unknown = [j for j in listed if j not in system.journeys]
    if missing or unknown:
        raise ModelInvalid(
            f"{slis_file}: journeys must match {system.source} "
            f"(missing: {missing or 'none'}, unknown: {unknown or 'none'}); "
            "list each with its routes"
        )
    assert system.slo is not None
    journeys: list[Journey] = []
    for name in system.journeys:
        routes = []
        for text in listed[name]:
            match = _ROUTE.match(str(text))
            if match is None:
                raise ModelInvalid(
                    f"{slis_file}: journeys.{name}: {text!r} must be 'METHOD /route'"
                )
            routes.append(Route(match.group(1), match.group(2)))
        slo = system.slo.for_journey(name)
        assert slo is not None
        error_rate = next((o.limit for o in slo.objectives if o.metric == "error_rate"), None)
        latency = next((o for o in slo.objectives if o.percentile is not None), None)
        journeys.append(
            Journey(
                name=name,
                service=entry,
                routes=tuple(routes),
                availability=1.0 - (error_rate if error_rate is not None else 0.001),
                latency_objective=None if latency is None else (latency.percentile or 0) / 100,
                latency_threshold=None
                if latency is None
                else threshold_bucket(latency.limit / 1000),
            )
        )
    default = float(raw.get("edge_latency_default", 0.5))
    overrides = {str(k): float(v) for k, v in (raw.get("edge_latency") or {}).items()}
    components = system.components
    edges = tuple(
        Edge(
            caller=name,
            callee=dep,
            broker=components[dep].infrastructure and components[dep].scheme != "http",
            latency_threshold=overrides.get(f"{name}->{dep}", default),
        )
        for name, service in system.services.items()
        for dep in service.depends_on
    )
    outbox = tuple(str(name) for name in raw.get("outbox") or ())
    for name in outbox:
        if name not in system.services:
            raise ModelInvalid(
                f"{slis_file}: outbox names {name!r}, not a service of {system.source}"
            )
    return Model(system=system, entry=entry, journeys=tuple(journeys), edges=edges, outbox=outbox)
