"""A simulated external card processor: slow, with a fixed number of lines per replica.

Real processors answer in tens of milliseconds and accept a limited number of concurrent
requests per merchant connection. Each payments replica holds `concurrency` such lines, so
one replica completes at most `concurrency / latency` charges per second however many cores
it has, and two replicas complete twice as many: scaling payments scales checkout capacity
even on a 2-core machine, which is what the scaling experiments measure.

Like real processors it is idempotent by key (the order id): processing the same charge
twice gives the same outcome, so a charge interrupted by a crash can simply be driven again.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sample_system.common import config
from sample_system.common.errors import ConfigError

Outcome = Literal["captured", "declined"]

# Test card tokens, as card processors document them: this one is always declined.
DECLINED_TOKENS = frozenset({"tok_declined", "tok_chargeDeclined"})


@dataclass(frozen=True)
class ProcessorSettings:
    """Latency range in milliseconds and concurrent lines of one replica."""

    latency_ms: tuple[float, float] = (20.0, 50.0)
    concurrency: int = 4

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProcessorSettings:
        """`PROCESSOR_LATENCY_MS` ("40" or "20-50") and `PROCESSOR_CONCURRENCY`."""
        raw = environ.get("PROCESSOR_LATENCY_MS", "").strip() or "20-50"
        low, _, high = raw.partition("-")
        try:
            latency = (float(low), float(high or low))
        except ValueError:
            latency = (-1.0, -1.0)
        if not 0 <= latency[0] <= latency[1] <= 60_000:
            raise ConfigError(
                f"PROCESSOR_LATENCY_MS={raw!r} is not a latency; write milliseconds as one "
                "number (40) or a range (20-50)"
            )
        concurrency = config.integer(environ, "PROCESSOR_CONCURRENCY", 4, minimum=1, maximum=10_000)
        return cls(latency_ms=latency, concurrency=concurrency)


RESOURCE = "processor_lines"


class _LinesCollector(Collector):
    """The concurrency-limit metrics gameday reads to find a saturated service
    (docs/scaling.md): limit, in use, busy line-seconds (exact at scrape time)."""

    def __init__(self) -> None:
        self.processors: weakref.WeakSet[Processor] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = time.monotonic()
        processors = list(self.processors)
        families = (
            GaugeMetricFamily(
                "concurrency_limit", "Units of a bounded resource.", labels=["resource"]
            ),
            GaugeMetricFamily("concurrency_in_use", "Units of it in use now.", labels=["resource"]),
            CounterMetricFamily(
                "concurrency_busy_seconds", "Units in use x seconds.", labels=["resource"]
            ),
        )
        values = (
            sum(p.settings.concurrency for p in processors),
            sum(p.in_flight for p in processors),
            sum(p.busy_seconds(now) for p in processors),
        )
        for family, value in zip(families, values, strict=True):
            family.add_metric([RESOURCE], value)
            yield family


_COLLECTOR: _LinesCollector | None = None
_WAIT: Histogram | None = None


def _metrics() -> tuple[_LinesCollector, Histogram]:
    """Registered once per process, on the first processor (no import-time side effect)."""
    global _COLLECTOR, _WAIT
    if _COLLECTOR is None or _WAIT is None:
        _COLLECTOR = _LinesCollector()
        REGISTRY.register(_COLLECTOR)
        _WAIT = Histogram(
            "concurrency_wait_seconds",
            "Time waited for a unit of a bounded resource.",
            ["resource"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
    return _COLLECTOR, _WAIT


class Processor:
    """Charges cards: waits for a free line, takes its latency, answers deterministically."""

    def __init__(self, settings: ProcessorSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._lines = asyncio.Semaphore(settings.concurrency)
        self._rng = rng or random.Random()
        self.in_flight = 0
        self._busy_done = 0.0  # line-seconds of finished charges
        self._busy_since: dict[int, float] = {}
        collector, self._wait = _metrics()
        collector.processors.add(self)

    def busy_seconds(self, now: float) -> float:
        """Line-seconds used so far, charges in progress included."""
        return self._busy_done + sum(now - start for start in list(self._busy_since.values()))

    async def charge(self, order_id: str, amount_cents: int, card_token: str) -> Outcome:
        """Capture `amount_cents` for `order_id`, or decline a declined test card."""
        queued = time.monotonic()
        async with self._lines:
            start = time.monotonic()
            self._wait.labels(RESOURCE).observe(start - queued)
            self.in_flight += 1
            ticket = id(asyncio.current_task())
            self._busy_since[ticket] = start
            try:
                await asyncio.sleep(self._rng.uniform(*self.settings.latency_ms) / 1000)
            finally:
                self.in_flight -= 1
                self._busy_since.pop(ticket, None)
                self._busy_done += time.monotonic() - start
        return "declined" if card_token in DECLINED_TOKENS else "captured"
