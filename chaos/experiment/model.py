"""The experiment file: a typed plan, validated whole before anything runs.

    name: payments-down
    system: ../system.yaml                 # relative to this file
    replicas: {payments: 2}                # optional overrides of the system file
    load: {locustfile: ../../loadtests/locustfile.py, users: 20, spawn_rate: 20}
    schedule: {warmup: 5s, baseline: 20s, fault: 20s, recovery: 20s}
    faults:
      - target: {service: payments}        # or {replica: payments/1} or {edge: orders->payments}
        kind: down
    hypothesis:
      steady: [browse, product]            # must stay within SLO and not deviate
      degraded:
        checkout: {max_latency: 300ms, errors: ["503"]}   # may fail: fast, and only so
      recover_within: 10s
    invariants: {command: "{python} -m sample_system.audit", timeout: 60s}

The model lives here; reading a file into it is `chaos.experiment.file.load_experiment()`,
which checks the file on its own; `check_against()` then checks it against the system it
names (services, replicas, edges, journeys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chaos.errors import ExperimentInvalid
from chaos.system.model import Invariants, LoadProfile, SystemSpec, target_problem
from chaos.system.target import FaultTarget
from chaos.yamldoc import suggest

FaultKind = Literal[
    "latency",
    "jitter",
    "down",
    "timeout",
    "reset_peer",
    "bandwidth",
    "slicer",
    "limit_data",
    "kill",
    "pause",
]
Stream = Literal["upstream", "downstream"]

# Toxic attributes per kind: name -> default (None: required). Values are Toxiproxy integers.
TOXIC_ATTRIBUTES: dict[str, dict[str, int | None]] = {
    "latency": {"latency": None, "jitter": 0},
    "jitter": {"jitter": None, "latency": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "bandwidth": {"rate": None},
    "slicer": {"average_size": 64, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": None},
}
PROCESS_KINDS = ("kill", "pause")
FAULT_KINDS: tuple[str, ...] = (*TOXIC_ATTRIBUTES, "down", *PROCESS_KINDS)

RECOVERY_SETTLE_S = 3.0  # a recovery counts once it has held this long in the recovery window


@dataclass(frozen=True)
class Fault:
    """One fault: its target, kind, Toxiproxy attributes, stream and toxicity."""

    name: str
    target: FaultTarget
    kind: FaultKind
    attributes: Mapping[str, int] = field(default_factory=dict)
    stream: Stream = "downstream"
    toxicity: float = 1.0
    where: str = ""

    @property
    def is_process_fault(self) -> bool:
        """True for kill and pause, which act on processes rather than proxies."""
        return self.kind in PROCESS_KINDS


@dataclass(frozen=True)
class Schedule:
    """Phase lengths in seconds: warm-up, baseline, fault window, recovery."""

    warmup: float
    baseline: float
    fault: float
    recovery: float

    @property
    def total(self) -> float:
        """Seconds of load from start to end."""
        return self.warmup + self.baseline + self.fault + self.recovery


@dataclass(frozen=True)
class Degraded:
    """A journey allowed to fail during the fault, within limits."""

    journey: str
    max_latency_ms: float | None = None  # p95 of its requests (failed or not) stays under this
    errors: tuple[str, ...] = ()  # allowed failure kinds (status codes, exception names)
    answers_only: bool = False  # with no `errors`: any HTTP status is allowed, no-answer is not

    def allows(self, kind: str) -> bool:
        """May the journey fail this way ('503', 'ReadTimeout') during the fault?"""
        if self.errors:
            return kind in self.errors
        return kind.isdigit() if self.answers_only else True


@dataclass(frozen=True)
class Hypothesis:
    """What must hold while the fault is on, and after."""

    steady: tuple[str, ...]
    degraded: tuple[Degraded, ...] = ()
    recover_within: float | None = None
    latency_tolerance: float = 1.5  # fault/baseline p95 ratio a steady journey may reach
    error_tolerance: float = 0.01  # error-rate increase a steady journey may show


@dataclass(frozen=True)
class AutoscalingClaim:
    """What autoscaling must show when the fault window is a load spike (chaos.scale.season)."""

    scales: tuple[str, ...]  # these scale out during the window, and no other service scales
    within_slo_after: float  # every journey is within its SLO this long after the window starts
    scale_in: bool = True  # and they are back to their starting count by the end


@dataclass(frozen=True)
class Experiment:
    """A validated experiment."""

    name: str
    path: Path
    system: Path
    load: LoadProfile
    schedule: Schedule
    faults: tuple[Fault, ...]
    hypothesis: Hypothesis
    description: str = ""
    replicas: Mapping[str, int] = field(default_factory=dict)
    invariants: Invariants | None = None
    autoscaling: AutoscalingClaim | None = None

    @property
    def journeys(self) -> tuple[str, ...]:
        """Every journey the hypothesis names."""
        return self.hypothesis.steady + tuple(d.journey for d in self.hypothesis.degraded)


def check_against(experiment: Experiment, spec: SystemSpec) -> None:
    """Check names against the system: services, replica indexes, edges and journeys."""
    source = spec.source
    components = spec.components
    for service in experiment.replicas:
        if service not in components:
            raise ExperimentInvalid(
                f"{experiment.path}: replicas names {service!r}, which {source} does not "
                f"define{suggest(service, components)}; services are {', '.join(components)}"
            )
    for fault in experiment.faults:
        problem = target_problem(spec, fault.target, experiment.replicas.get(fault.target.service))
        if problem:
            raise ExperimentInvalid(f"{fault.where}: target {fault.target}: {problem} ({source})")
    for service in experiment.autoscaling.scales if experiment.autoscaling else ():
        if spec.services.get(service) is None or spec.services[service].autoscale is None:
            raise ExperimentInvalid(
                f"{experiment.path}: autoscaling.scales names {service!r}, which has no "
                f"autoscale policy in {source}; add 'autoscale: {{min: 1, max: 4, metric: busy, "
                "target: 0.6}' to it"
            )
    for journey in experiment.journeys:
        if journey not in spec.journeys:
            known = ", ".join(spec.journeys) or "(none)"
            raise ExperimentInvalid(
                f"{experiment.path}: hypothesis names journey {journey!r}, which has no SLO in "
                f"{source}{suggest(journey, spec.journeys)}; journeys are {known}"
            )
