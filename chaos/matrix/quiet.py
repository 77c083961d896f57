"""The quiet seconds of a matrix run: no fault in place and every journey recovered.

Each cell attempt is compared with the `matrix.baseline` quiet seconds nearest in time to its
fault window, before or after it (`nearest`): a rolling baseline that follows drift. The most
recent seconds before the window alone would not do: the cells whose faults can touch data
end with an audit, after which no second is quiet before the next injection, so a run of such
cells leaves the seconds before a window a minute old (measured on the shop: up to 95 s, and a
system 50 % slower by then failed a healthy cell). The call graph is derived from all quiet
seconds. Windows are whole seconds: the samples are counted per second (loadtests.windows).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from loadtests.windows import Window, WindowSet

if TYPE_CHECKING:
    from chaos.judgement.matrix import CellWindows

R = TypeVar("R")


class QuietSeconds:
    """The quiet seconds of the run (no fault, recovered), newest last, for rolling baselines."""

    def __init__(self) -> None:
        self.parts: list[Window] = []
        self.opened: float | None = None

    def open(self, start: float) -> None:
        """Quiet from `start` on (a recovery was seen, or the baseline began)."""
        self.opened = start

    def close(self, end: float) -> None:
        """No longer quiet from `end` (a fault is about to go in); keeps the whole seconds."""
        if self.opened is not None:
            first, last = math.ceil(self.opened), math.floor(end)
            if last > first:
                self.parts.append(Window("quiet", float(first), float(last)))
        self.opened = None

    def all(self, until: float) -> list[Window]:
        """Every quiet part, the one still open cut at `until`."""
        parts = list(self.parts)
        if self.opened is not None and math.floor(until) > math.ceil(self.opened):
            parts.append(Window("quiet", float(math.ceil(self.opened)), float(math.floor(until))))
        return parts

    def last(self, seconds: float) -> WindowSet:
        """The newest `seconds` of closed quiet parts: a cell's rolling baseline."""
        chosen: list[Window] = []
        total = 0.0
        for part in reversed(self.parts):
            if total >= seconds:
                break
            take = min(part.end - part.start, seconds - total)
            chosen.append(Window("quiet", part.end - take, part.end))
            total += take
        return WindowSet.of("baseline", chosen)


def nearest(parts: Sequence[Window], window: Window, seconds: float) -> WindowSet | None:
    """The `seconds` whole quiet seconds of `parts` nearest in time to `window`, before or
    after it (at equal distance the earlier one), as contiguous stretches; None when there
    are none."""
    inside = window.whole_seconds()
    first = math.ceil(window.start - 0.5)  # the window's first second
    after = first + len(inside)  # the first second after it

    def distance(second: int) -> tuple[int, int]:
        return (first - 1 - second, 0) if second < first else (second - after, 1)

    quiet = {s for part in parts for s in part.whole_seconds()} - set(inside)
    chosen = sorted(sorted(quiet, key=distance)[: max(0, int(seconds))])
    if not chosen:
        return None
    stretches = [
        [second for _, second in run]
        for _, run in itertools.groupby(enumerate(chosen), key=lambda pair: pair[1] - pair[0])
    ]
    return WindowSet.of(
        "baseline", [Window("quiet", float(run[0]), float(run[-1] + 1)) for run in stretches]
    )


def rebaseline(
    attempts: Mapping[str, list[tuple[CellWindows, R]]], parts: Sequence[Window], seconds: float
) -> dict[str, list[tuple[CellWindows, R]]]:
    """Every attempt with its baseline the `seconds` quiet seconds nearest its fault window."""
    return {
        cell: [(_rebased(windows, parts, seconds), record) for windows, record in runs]
        for cell, runs in attempts.items()
    }


def _rebased(windows: CellWindows, parts: Sequence[Window], seconds: float) -> CellWindows:
    baseline = nearest(parts, windows.fault, seconds)
    return windows if baseline is None else replace(windows, baseline=baseline)


def whole(name: str, start: float, end: float) -> Window:
    """The whole seconds between `start` and `end` (empty, not negative, when none)."""
    first, last = math.ceil(start), math.floor(end)
    return Window(name, float(first), float(max(first, last)))
