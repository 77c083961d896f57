"""The runtime's autoscaler: every second, each autoscaled service's metric, an HPA decision.

    autoscaler = Autoscaler(system, interval=1.0)   # started by RunningSystem when the system
    autoscaler.start()                              # file has `autoscale:` policies
    autoscaler.decisions                            # recent Decision records, per service

The metric of a service is the mean over its replicas of what their own /metrics report
(chaos.runtime.telemetry): `busy`, `cpu` or `in_flight`. A replica is counted from its
second reading on (a rate needs two), as the HPA leaves out pods that are starting. Each
decision is appended to `<run dir>/autoscaler.jsonl`; a change is made through the scaler,
like `gameday scale S=N`. The same loop keeps inherited faults in line (`Scaler.sync`).
An error here is logged and the loop goes on: the system keeps running unscaled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.runtime.hpa import Decision, Hpa
from chaos.runtime.telemetry import Reading, Usage, read_replica

if TYPE_CHECKING:
    from chaos.runtime.system import RunningSystem

logger = logging.getLogger("chaos.runtime")

LOG_FILE = "autoscaler.jsonl"


def metric_of(usages: list[Usage], metric: str) -> float | None:
    """The mean of `metric` over the replicas that report it; None when none does."""
    values = [getattr(u, metric) for u in usages]
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


class Autoscaler:
    """Watches autoscaled services from a daemon thread and scales them."""

    def __init__(self, system: RunningSystem, *, interval: float = 1.0, enabled: bool = True):
        self.system = system
        self.interval = interval
        self.hpas = {n: Hpa(p) for n, p in system.spec.autoscaled.items()} if enabled else {}
        self.decisions: dict[str, deque[Decision]] = {n: deque(maxlen=600) for n in self.hpas}
        self._last: dict[tuple[str, int, int | None], Reading] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log = Path(system.run_dir) / LOG_FILE

    def start(self) -> None:
        """Start the loop."""
        self._thread = threading.Thread(target=self._run, name="gameday-autoscaler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop (waits for a scaling in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.system.scaler.sync()
                for service in self.hpas:
                    if self._stop.is_set():
                        return
                    self.step(service)
            except Exception:
                logger.exception("autoscaler pass failed")

    def usages(self, service: str) -> list[Usage]:
        """The usage of each replica since the previous reading."""
        found = []
        for plan in self.system.topology.replicas(service):
            if plan.metrics is None:
                continue
            reading = read_replica(plan.url, plan.metrics, timeout=min(1.0, self.interval))
            if reading is None:
                continue
            key = (service, plan.replica, self.system.pid(service, plan.replica))
            before = self._last.get(key)
            self._last[key] = reading
            usage = Usage.between(before, reading) if before is not None else None
            if usage is not None:
                found.append(usage)
        return found

    def step(self, service: str) -> Decision:
        """Measure, decide and (when the decision says so) scale one service."""
        hpa = self.hpas[service]
        current = len(self.system.topology.replicas(service))
        metric = metric_of(self.usages(service), hpa.policy.metric)
        decision = hpa.decide(time.monotonic(), current, metric)
        self.decisions[service].append(decision)
        self._record(service, decision)
        if decision.changes:
            logger.info(
                "autoscaler: %s %d -> %d (%s)", service, current, decision.desired, decision.reason
            )
            self.system.scale(service, decision.desired)
            self._forget_departed(service)
        return decision

    def _forget_departed(self, service: str) -> None:
        live = {p.replica for p in self.system.topology.replicas(service)}
        self._last = {k: v for k, v in self._last.items() if k[0] != service or k[1] in live}

    def _record(self, service: str, decision: Decision) -> None:
        row: dict[str, Any] = {
            "service": service,
            "wall": time.time(),
            **dataclasses.asdict(decision),
        }
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")


def read_decisions(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's autoscaler.jsonl (empty when there is none)."""
    path = Path(run_dir) / LOG_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
