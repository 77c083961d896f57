"""What a replica's own /metrics says about its load: CPU, in-flight requests, a busy limit.

    before = read_replica("http://127.0.0.1:41002", "/metrics")
    ...
    usage = Usage.between(before, read_replica(...))
    usage.cpu          # CPU cores used (process_cpu_seconds_total, prometheus-client's
                       # process collector)
    usage.in_flight    # http_server_active_requests (instrument()), mean of the two reads
    usage.busy         # fraction of a concurrency limit in use, when the service reports one
    usage.wait_ms      # mean queue time in front of that limit
    before.backlog     # deferred work the replica still owes (the backlog convention)

    settled = wait_settled(system.topology.processes, timeout=120)   # nothing in flight or owed

The concurrency-limit convention (docs/scaling.md): a service that holds a bounded resource
(processor lines, a worker pool, a connection pool) reports `concurrency_limit`,
`concurrency_in_use`, the counter `concurrency_busy_seconds_total` (in-use x seconds) and the
histogram `concurrency_wait_seconds`, each labelled `resource`. The backlog convention: a
service that owes work no request waits for (a reconciler's pending items, an outbox) reports
the gauge `backlog_items`, labelled `kind`.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from chaos.system.topology import ProcessPlan


@dataclass(frozen=True)
class Reading:
    """Cumulative figures of one replica at one moment."""

    time: float
    cpu_seconds: float | None
    in_flight: float
    limit: float | None
    busy_seconds: float | None
    wait_sum: float
    wait_count: float
    backlog: float = 0.0  # backlog_items, all kinds


@dataclass(frozen=True)
class Usage:
    """Rates of one replica between two readings."""

    seconds: float
    cpu: float | None
    in_flight: float
    busy: float | None
    wait_ms: float | None

    @classmethod
    def between(cls, before: Reading, after: Reading) -> Usage | None:
        """The usage between two readings of the same process; None if it restarted."""
        span = after.time - before.time
        if span <= 0:
            return None
        cpu = None
        if after.cpu_seconds is not None and before.cpu_seconds is not None:
            if after.cpu_seconds < before.cpu_seconds:
                return None  # a new process: counters started again
            cpu = (after.cpu_seconds - before.cpu_seconds) / span
        busy = None
        if after.busy_seconds is not None and before.busy_seconds is not None and after.limit:
            busy = max(0.0, (after.busy_seconds - before.busy_seconds) / (span * after.limit))
        waits = after.wait_count - before.wait_count
        wait_ms = (after.wait_sum - before.wait_sum) / waits * 1000 if waits > 0 else None
        return cls(span, cpu, (before.in_flight + after.in_flight) / 2, busy, wait_ms)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "cpu": self.cpu,
            "in_flight": self.in_flight,
            "busy": self.busy,
            "wait_ms": self.wait_ms,
        }


def parse_reading(text: str, now: float) -> Reading:
    """A Reading from Prometheus text exposition."""
    cpu: float | None = None
    in_flight = 0.0
    limit: float | None = None
    busy: float | None = None
    wait_sum = wait_count = backlog = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, value = sample.name, float(sample.value)
            if name == "process_cpu_seconds_total":
                cpu = value
            elif name == "http_server_active_requests":
                in_flight += value
            elif name == "concurrency_limit":
                limit = (limit or 0.0) + value
            elif name == "concurrency_busy_seconds_total":
                busy = (busy or 0.0) + value
            elif name == "concurrency_wait_seconds_sum":
                wait_sum += value
            elif name == "concurrency_wait_seconds_count":
                wait_count += value
            elif name == "backlog_items":
                backlog += value
    return Reading(now, cpu, in_flight, limit, busy, wait_sum, wait_count, backlog)


def read_replica(url: str, path: str = "/metrics", timeout: float = 2.0) -> Reading | None:
    """Scrape one replica; None when it does not answer."""
    try:
        with urllib.request.urlopen(url + path, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    try:
        return parse_reading(text, time.monotonic())
    except ValueError:
        return None


@dataclass(frozen=True)
class Settled:
    """How long a system took to have nothing in flight and no backlog, and what it still owed."""

    seconds: float
    owed: dict[str, float]  # service -> backlog items still owed when the time was up

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"seconds": round(self.seconds, 1), "backlog_left": self.owed}


def wait_settled(
    processes: Iterable[ProcessPlan], *, timeout: float, poll: float = 0.25
) -> Settled:
    """Wait (at most `timeout` s) until no service replica has a request in flight or a backlog.

    Replicas that do not answer count as settled; infrastructure has no such metrics.
    """
    replicas = [p for p in processes if p.metrics is not None and not p.infrastructure]
    began = time.monotonic()
    while True:
        busy = 0.0
        owed: dict[str, float] = {}
        for plan in replicas:
            assert plan.metrics is not None
            reading = read_replica(plan.url, plan.metrics, timeout=1.0)
            if reading is None:
                continue
            busy += reading.in_flight
            if reading.backlog > 0:
                owed[plan.service] = owed.get(plan.service, 0.0) + reading.backlog
        waited = time.monotonic() - began
        if (busy <= 0 and not owed) or waited >= timeout:
            return Settled(waited, owed)
        time.sleep(poll)
