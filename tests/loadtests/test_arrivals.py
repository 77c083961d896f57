"""The open model's schedule: fixed intended starts, whatever happens to responses."""

from __future__ import annotations

import pytest

from loadtests.arrivals import ArrivalSchedule, check_rate, is_late
from loadtests.errors import ArrivalRateInvalid


def test_intended_starts_are_fixed_in_advance() -> None:
    schedule = ArrivalSchedule(rate=4.0, start=100.0)
    assert [schedule.advance() for _ in range(5)] == [100.0, 100.25, 100.5, 100.75, 101.0]
    assert schedule.next_due() == 101.25


def test_falling_behind_is_measured_not_forgotten() -> None:
    """A generator stalled for 2 s still owes every arrival that was due meanwhile."""
    schedule = ArrivalSchedule(rate=10.0, start=0.0)
    schedule.advance()  # the arrival due at 0.0
    assert schedule.behind(0.05) == 0
    assert schedule.behind(2.0) == 20  # due at 0.1 ... 2.0
    intended = [schedule.advance() for _ in range(20)]
    assert intended[0] == pytest.approx(0.1) and intended[-1] == pytest.approx(2.0)
    assert is_late(intended[0], 2.0, threshold_s=0.05)
    assert not is_late(2.0, 2.01, threshold_s=0.05)


@pytest.mark.parametrize(
    ("rate", "bound", "message"),
    [
        (0, 10, r"Checkout\.rate must be > 0"),
        (float("inf"), 10, r"Checkout\.rate must be a number"),
        ("5", 10, r"Checkout\.rate must be a number"),
        (5, 0, r"Checkout\.max_in_flight must be an integer >= 1"),
    ],
)
def test_impossible_rates_are_refused(rate: object, bound: object, message: str) -> None:
    with pytest.raises(ArrivalRateInvalid, match=message):
        check_rate(rate, bound, "Checkout")  # type: ignore[arg-type]
