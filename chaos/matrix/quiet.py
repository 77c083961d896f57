"""The quiet seconds of a matrix run: no fault in place and every journey recovered.

Each cell is compared with the most recent `matrix.baseline` quiet seconds (a rolling
baseline), and the call graph is derived from all of them. Windows are whole seconds: the
samples are counted per second (loadtests.windows).
"""

from __future__ import annotations

import math

from loadtests.windows import Window, WindowSet


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


def whole(name: str, start: float, end: float) -> Window:
    """The whole seconds between `start` and `end` (empty, not negative, when none)."""
    first, last = math.ceil(start), math.floor(end)
    return Window(name, float(first), float(max(first, last)))
