"""Human units of SLO files and shape options."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from loadtests.units import format_duration, parse_duration, parse_rate, parse_ratio


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0), ("500us", 0.0005), (30, 30.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_bare_duration_uses_the_given_unit() -> None:
    assert parse_duration(300, bare_unit="ms") == pytest.approx(0.3)
    assert parse_duration("300", bare_unit="ms") == pytest.approx(0.3)


@pytest.mark.parametrize("bad", ["fast", "-1s", "1d", True, "", "nan"])
def test_bad_durations_say_what_is_accepted(bad: object) -> None:
    with pytest.raises(ValueError, match="250ms"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("bad", "parse"),
    [("-1s", parse_duration), (-2, parse_duration), (" -0.5 m", parse_duration),
     ("-5/s", parse_rate)],
)  # fmt: skip
def test_a_negative_value_is_called_negative(bad: object, parse: Callable[[object], float]) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{bad!r} is negative; it must be 0 or more")):
        parse(bad)


def test_rates_and_ratios() -> None:
    assert parse_rate("5/s") == 5.0
    assert parse_rate("300/m") == pytest.approx(5.0)
    assert parse_rate(2) == 2.0
    assert parse_ratio("1%") == pytest.approx(0.01)
    assert parse_ratio(0.05) == 0.05
    assert parse_ratio("0.2") == pytest.approx(0.2)
    with pytest.raises(ValueError, match="more than 100%"):
        parse_ratio("150%")
    with pytest.raises(ValueError, match="5/s"):
        parse_rate("five")


def test_format_duration() -> None:
    assert format_duration(0.0005) == "500µs"
    assert format_duration(0.0123) == "12.3ms"
    assert format_duration(1.5) == "1.50s"
    assert format_duration(125) == "2m05s"
