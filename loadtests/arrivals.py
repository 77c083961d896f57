"""The open model's clock: arrivals at fixed intended times, whatever the responses do.

A closed-model load generator (Locust's users) sends the next request when the previous one
returns, so while the server stalls it stops asking and never records the requests it did
not send: coordinated omission. An open model decides every start time up front —
``start + k / rate`` — and measures latency from that intended start, so a stall shows up in
every request that should have been sent during it.

Pure: the Locust user that runs this schedule is `loadtests.openmodel.OpenModelUser`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadtests.errors import ArrivalRateInvalid


def check_rate(rate: float, max_in_flight: int, where: str) -> None:
    """Raise ArrivalRateInvalid naming `where` unless rate > 0 and max_in_flight >= 1."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise ArrivalRateInvalid(
            f"{where}.rate must be a number of arrivals per second, got {rate!r}"
        )
    if rate <= 0:
        raise ArrivalRateInvalid(f"{where}.rate must be > 0 arrivals per second, got {rate!r}")
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise ArrivalRateInvalid(
            f"{where}.max_in_flight must be an integer >= 1, got {max_in_flight!r}"
        )


@dataclass
class ArrivalSchedule:
    """Intended start times start, start + 1/rate, start + 2/rate, ... on any monotonic clock."""

    rate: float
    start: float
    issued: int = 0

    def __post_init__(self) -> None:
        check_rate(self.rate, 1, "ArrivalSchedule")

    def next_due(self) -> float:
        """When the next arrival is intended to start."""
        return self.start + self.issued / self.rate

    def advance(self) -> float:
        """Take the next arrival; return its intended start."""
        due = self.next_due()
        self.issued += 1
        return due

    def behind(self, now: float) -> int:
        """How many arrivals were due by `now` and not yet taken (0 when on schedule)."""
        return max(0, math.floor((now - self.start) * self.rate) + 1 - self.issued)


def is_late(intended: float, actual: float, threshold_s: float) -> bool:
    """True when an arrival started more than `threshold_s` after it was intended to."""
    return actual - intended > threshold_s
