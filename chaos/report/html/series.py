"""Each journey's seconds as the report's charts show them, and a window's slowest traces. Pure.

Per second: latency p50 and p95 of every completed request (failed or not, as the verdict
compares them) and the error rate, (failures + dropped) / offered. A second in which a
journey offered nothing is a gap (None), never a zero: a chart must not draw an outage as
a fast second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadtests.windows import SampleSet, Window, WindowStats

PERCENTILES = (50.0, 95.0)


@dataclass(frozen=True)
class Series:
    """One journey, second by second from `start` (unix second); None where it sent nothing."""

    journey: str
    start: int
    p50_ms: tuple[float | None, ...]
    p95_ms: tuple[float | None, ...]
    error_rate: tuple[float | None, ...]

    @property
    def end(self) -> int:
        """The second after the last one."""
        return self.start + len(self.p50_ms)

    def between(self, start: int, end: int) -> Series:
        """The seconds in [start, end), padded with gaps where the run had none."""

        def part(values: tuple[float | None, ...]) -> tuple[float | None, ...]:
            return tuple(
                values[s - self.start] if self.start <= s < self.end else None
                for s in range(start, end)
            )

        return Series(
            self.journey, start, part(self.p50_ms), part(self.p95_ms), part(self.error_rate)
        )


@dataclass(frozen=True)
class SlowRequest:
    """A traced request of a window: its journey, latency, outcome and trace id."""

    journey: str
    latency_ms: float
    trace_id: str
    failed: bool


def percentiles_ms(stats: WindowStats, percentiles: Sequence[float]) -> list[float | None]:
    """`stats.percentile_ms(p)` for each p, exactly, read from the non-empty buckets only.

    hdrh walks every bucket in Python for each percentile (milliseconds each); a report
    asks for two per journey and second, so this reads the counts once and sums those.
    """
    histogram = stats.latency
    buckets = stats.value_counts()
    if not buckets:
        return [None for _ in percentiles]
    values: list[float | None] = []
    for percentile in percentiles:
        target = histogram.get_target_count_at_percentile(percentile)
        running = 0
        value = buckets[-1][0]
        for bucket_ms, count in buckets:
            running += count
            if running >= target:
                value = bucket_ms
                break
        values.append(value)
    return values


def journey_series(samples: SampleSet, journey: str) -> Series | None:
    """Every second of `journey` from its first sample to its last; None when it has none."""
    seconds = samples.seconds(journey)
    if not seconds:
        return None
    start = seconds[0]
    size = seconds[-1] + 1 - start
    p50: list[float | None] = [None] * size
    p95: list[float | None] = [None] * size
    errors: list[float | None] = [None] * size
    for stats in samples.per_second(journey):
        index = int(stats.window.start) - start
        if stats.offered:
            errors[index] = stats.error_rate
        p50[index], p95[index] = percentiles_ms(stats, PERCENTILES)
    return Series(journey, start, tuple(p50), tuple(p95), tuple(errors))


def slowest_requests(
    samples: SampleSet, journeys: Sequence[str], window: Window, per_journey: int = 5
) -> tuple[SlowRequest, ...]:
    """The `per_journey` slowest traced requests of each journey in `window`, slowest first."""
    found = [
        SlowRequest(journey, t.latency_ms, t.trace_id, t.failed)
        for journey in journeys
        for t in samples.stats(journey, window).traces[:per_journey]
    ]
    return tuple(sorted(found, key=lambda r: r.latency_ms, reverse=True))
