"""Parsing of the human units used in SLO files and shape options: durations, rates, ratios.

Each parser takes text or a number and returns a float in the base unit (seconds, events per
second, fraction), raising ValueError with a message that shows the accepted forms.
"""

from __future__ import annotations

import math
import re

# A sign is accepted so that "-1s" is refused for what it is (negative), not as gibberish.
_DURATION = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(us|µs|ms|s|m|h)?\s*$")
_DURATION_SCALE = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:/\s*(s|m|h))?\s*$")
_RATE_SCALE = {"s": 1.0, "m": 1 / 60.0, "h": 1 / 3600.0}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")


def _finite(value: float, text: object, example: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number; write e.g. {example}")
    if value < 0:
        raise ValueError(f"{text!r} is negative; it must be 0 or more, e.g. {example}")
    return value


def parse_duration(value: object, *, bare_unit: str = "s") -> float:
    """Seconds in `value`: '250ms', '1.5s', '2m', '1h', or a bare number in `bare_unit`."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 250ms, 1.5s or 2m")
    if isinstance(value, int | float):
        return _finite(float(value) * _DURATION_SCALE[bare_unit], value, "250ms")
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration; write e.g. 250ms, 1.5s or 2m")
    number, unit = match.groups()
    return _finite(float(number) * _DURATION_SCALE[unit or bare_unit], value, "250ms")


def parse_rate(value: object) -> float:
    """Events per second in `value`: '5/s', '300/m', '10000/h', or a bare number per second."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a rate; write e.g. 5/s or 300/m")
    if isinstance(value, int | float):
        return _finite(float(value), value, "5/s")
    match = _RATE.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a rate; write e.g. 5/s or 300/m")
    number, unit = match.groups()
    return _finite(float(number) * _RATE_SCALE[unit or "s"], value, "5/s")


def parse_ratio(value: object) -> float:
    """A fraction in [0, 1] from '1%', '0.5 %' or a bare number such as 0.01."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a ratio; write e.g. 1% or 0.01")
    if isinstance(value, int | float):
        ratio = _finite(float(value), value, "1%")
    else:
        match = _PERCENT.match(str(value))
        if match is not None:
            ratio = float(match.group(1)) / 100.0
        else:
            try:
                ratio = _finite(float(str(value)), value, "1%")
            except ValueError:
                raise ValueError(f"{value!r} is not a ratio; write e.g. 1% or 0.01") from None
    if ratio > 1.0:
        raise ValueError(f"{value!r} is more than 100%; write e.g. 1% or 0.01")
    return ratio


def format_duration(seconds: float) -> str:
    """A short human form of `seconds`: '850µs', '12.3ms', '1.50s', '2m05s'."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f}ms"
    if seconds < 120.0:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"
