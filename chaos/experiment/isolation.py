"""Alert isolation: do the alerts of a fault point at it, and only at what it may degrade?

    expected = Expectation.of(experiment, spec)     # an experiment and its system
    expected.relation({"alertname": "CircuitBreakerOpen", "caller": "orders",
                       "callee": "payments"})      # 'names the fault'
    verdict = judge(alerts, expected)               # alerts: label sets, alertname included
    verdict.isolated                                # some alert names the fault, none points
                                                    # elsewhere

How an alert relates to the experiment's faults:

- **names the fault**: a cause alert whose `callee` or `service` is a faulted service
  (`CircuitBreakerOpen{orders->payments}`, `ReplicaDown{service=payments}`);
- **upstream symptom**: a cause alert on a service calling a faulted one, directly or not
  (`DependencyErrorRatioHigh{gateway->orders}` while payments is down: orders answers 503),
  on the faulted call path and so not a false lead; for an edge fault (`orders->payments`)
  only the caller and its own callers;
- **degraded journey**: a journey alert for a journey the hypothesis lets degrade;
- **unexpected**: anything else: an alert for a journey meant to hold, or a cause alert on a
  service off the faulted call path.

Pure; used by the runner (the journal's alerts per phase) and benchmarks/alert_detection.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from chaos.experiment.model import Experiment
from chaos.system.model import SystemSpec

Relation = Literal["names the fault", "upstream symptom", "degraded journey", "unexpected"]


def upstream_of(spec: SystemSpec, service: str) -> frozenset[str]:
    """Every service that calls `service`, directly or through others (depends_on)."""
    found: set[str] = set()
    todo = [service]
    while todo:
        for caller in spec.callers(todo.pop()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return frozenset(found - {service})


@dataclass(frozen=True)
class Expectation:
    """What an experiment's faults may raise: alerts on them, their callers, degraded journeys."""

    fault: str  # `payments down`, `payments/0 kill`
    services: frozenset[str]
    upstream: frozenset[str]
    degraded: frozenset[str]

    @classmethod
    def of(cls, experiment: Experiment, spec: SystemSpec) -> Expectation:
        """From an experiment's faults and hypothesis, and its system's call graph."""
        services: set[str] = set()
        upstream: set[str] = set()
        for fault in experiment.faults:
            target = fault.target
            services.add(target.service)
            if target.kind == "edge" and target.caller is not None:
                upstream |= {target.caller} | upstream_of(spec, target.caller)
            else:
                upstream |= upstream_of(spec, target.service)
        return cls(
            fault=", ".join(f"{f.target} {f.kind}" for f in experiment.faults),
            services=frozenset(services),
            upstream=frozenset(upstream - services),
            degraded=frozenset(d.journey for d in experiment.hypothesis.degraded),
        )

    def relation(self, alert: Mapping[str, str]) -> Relation:
        """How one alert (its labels) relates to the faults."""
        if "journey" in alert:
            return "degraded journey" if alert["journey"] in self.degraded else "unexpected"
        named = alert.get("callee") or alert.get("service")
        if named in self.services:
            return "names the fault"
        if named in self.upstream:
            return "upstream symptom"
        return "unexpected"


@dataclass(frozen=True)
class Verdict:
    """The alerts of a fault, by their relation to it."""

    by_relation: Mapping[Relation, tuple[Mapping[str, str], ...]]

    @property
    def isolated(self) -> bool:
        """Some alert names a faulted service and none points elsewhere."""
        return bool(self.by_relation.get("names the fault")) and not self.unexpected

    @property
    def unexpected(self) -> tuple[Mapping[str, str], ...]:
        """Alerts for journeys meant to hold, or on services off the faulted call path."""
        return self.by_relation.get("unexpected", ())


def judge(alerts: Iterable[Mapping[str, str]], expected: Expectation) -> Verdict:
    """Sort `alerts` (label sets, alertname included) by their relation to the faults."""
    by_relation: dict[Relation, list[Mapping[str, str]]] = {}
    for alert in alerts:
        by_relation.setdefault(expected.relation(alert), []).append(alert)
    return Verdict({relation: tuple(found) for relation, found in by_relation.items()})


def describe(alert: Mapping[str, str]) -> str:
    """`CircuitBreakerOpen{orders->payments}`, `ReplicaDown{payments/0}`, ..."""
    name = alert.get("alertname", "?")
    if "journey" in alert:
        where = f"{alert['journey']} {alert.get('sli', '')} {alert.get('severity', '')}"
    elif "callee" in alert:
        where = f"{alert.get('caller', '?')}->{alert['callee']}"
    elif "replica" in alert:
        where = f"{alert.get('service', '?')}/{alert['replica']}"
    else:
        where = alert.get("service", "")
    return f"{name}{{{' '.join(where.split())}}}"
