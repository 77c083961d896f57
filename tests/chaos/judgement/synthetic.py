"""Synthetic load samples for judgement tests: lognormal latencies, errors at a given rate."""

from __future__ import annotations

import random

from loadtests.samples import Sample, parse_line
from loadtests.windows import SampleSet

T0 = 1_700_000_000


class Load:
    """Builds a SampleSet second by second."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.samples = SampleSet()

    def add(
        self,
        journey: str,
        seconds: range,
        *,
        median_ms: float = 20.0,
        error_rate: float = 0.0,
        error: str = "503",
        failed_ms: float | None = None,
        per_second: int = 50,
    ) -> None:
        for second in seconds:
            sample = Sample(journey, T0 + second)
            for _ in range(per_second):
                failed = self.rng.random() < error_rate
                latency = (
                    failed_ms
                    if failed and failed_ms is not None
                    else self.rng.lognormvariate(0, 0.35) * median_ms
                )
                sample.record(latency, failed=failed, error=error if failed else None)
            self.samples.add(parse_line(sample.to_line(), "test"))
