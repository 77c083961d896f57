"""Which service is saturated at a capacity knee, from each service's own telemetry. Pure.

Per service, over the judged window of one step (chaos.runtime.telemetry readings):

- `busy`: mean fraction of its concurrency limit in use (services that report one);
- `cpu`: CPU cores used, in all and by its busiest replica (a Python process uses one core);
- `in_flight`: requests in flight (mean of the readings, all replicas);
- `wait_ms`: mean queue time in front of its concurrency limit.

A service's saturation is max(busy, CPU of its busiest replica in cores): 1.0 means a
resource it cannot exceed is used all the time. The bottleneck is the most saturated service
when that is at least `SATURATED` (0.8); otherwise none is named, and the machine's CPU is
reported, since on a shared machine the limit may be the cores themselves (or the load
generator, which `late` arrivals reveal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.runtime.telemetry import Usage

SATURATED = 0.8


@dataclass(frozen=True)
class ServiceLoad:
    """One service's usage over a window."""

    service: str
    replicas: int
    cpu: float | None  # cores, all replicas
    cpu_max_replica: float | None
    busy: float | None
    in_flight: float
    wait_ms: float | None

    @property
    def saturation(self) -> float:
        """max(busy fraction, busiest replica's CPU in cores)."""
        return max(self.busy or 0.0, self.cpu_max_replica or 0.0)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "service": self.service,
            "replicas": self.replicas,
            "cpu": self.cpu,
            "cpu_max_replica": self.cpu_max_replica,
            "busy": self.busy,
            "in_flight": self.in_flight,
            "wait_ms": self.wait_ms,
            "saturation": self.saturation,
        }


def service_load(service: str, usages: Sequence[Usage]) -> ServiceLoad:
    """Aggregate the replicas' usages of one service."""
    cpus = [u.cpu for u in usages if u.cpu is not None]
    busies = [u.busy for u in usages if u.busy is not None]
    waits = [u.wait_ms for u in usages if u.wait_ms is not None]
    return ServiceLoad(
        service=service,
        replicas=len(usages),
        cpu=sum(cpus) if cpus else None,
        cpu_max_replica=max(cpus) if cpus else None,
        busy=sum(busies) / len(busies) if busies else None,
        in_flight=sum(u.in_flight for u in usages),
        wait_ms=sum(waits) / len(waits) if waits else None,
    )


@dataclass(frozen=True)
class Attribution:
    """Every service's load at one step, and the one named saturated (if any)."""

    services: tuple[ServiceLoad, ...]
    bottleneck: str | None
    machine_cpu: float  # cores used by the system's processes
    cores: int

    def describe(self) -> str:
        """'payments saturated (busy 0.97, ...)' or why none is named."""
        ranked = sorted(self.services, key=lambda s: s.saturation, reverse=True)
        top = ranked[0] if ranked else None
        machine = f"machine CPU {self.machine_cpu:.2f} of {self.cores} cores"
        if self.bottleneck is not None and top is not None:
            busy = f"busy {top.busy:.2f}, " if top.busy is not None else ""
            return (
                f"{top.service} saturated ({busy}busiest replica CPU "
                f"{top.cpu_max_replica or 0:.2f} cores); {machine}"
            )
        if top is None:
            return f"no telemetry; {machine}"
        return f"no service saturated (highest: {top.service} at {top.saturation:.2f}); {machine}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "bottleneck": self.bottleneck,
            "machine_cpu": self.machine_cpu,
            "cores": self.cores,
            "services": [s.to_json() for s in self.services],
        }


def attribute(usages: Mapping[str, Sequence[Usage]], cores: int) -> Attribution:
    """Name the saturated service from every service's replica usages."""
    loads = tuple(service_load(name, u) for name, u in usages.items() if u)
    top = max(loads, key=lambda s: s.saturation, default=None)
    bottleneck = top.service if top is not None and top.saturation >= SATURATED else None
    machine = sum(s.cpu or 0.0 for s in loads)
    return Attribution(loads, bottleneck, machine, cores)
