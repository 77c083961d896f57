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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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


class Processor:
    """Charges cards: waits for a free line, takes its latency, answers deterministically."""

    def __init__(self, settings: ProcessorSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._lines = asyncio.Semaphore(settings.concurrency)
        self._rng = rng or random.Random()
        self.in_flight = 0

    async def charge(self, order_id: str, amount_cents: int, card_token: str) -> Outcome:
        """Capture `amount_cents` for `order_id`, or decline a declined test card."""
        async with self._lines:
            self.in_flight += 1
            try:
                await asyncio.sleep(self._rng.uniform(*self.settings.latency_ms) / 1000)
            finally:
                self.in_flight -= 1
        return "declined" if card_token in DECLINED_TOKENS else "captured"
