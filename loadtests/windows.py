"""Reading a samples file and merging its seconds into time windows, exactly.

    samples = read_samples(run_dir / SAMPLES_FILE)        # or read_run(run_dir)
    fault = Window("fault", start=t_on, end=t_off)         # unix seconds
    stats = samples.stats("checkout", fault)
    stats.percentile_ms(99), stats.error_rate, stats.throughput, stats.offered_rate

A second `s` covers [s, s+1) and belongs to a window when its midpoint s+0.5 does, so
adjacent windows (baseline | fault | recovery) split the seconds between them with none
counted twice or lost. Rates divide by the number of seconds the window covers.

Pure: no Locust, no gevent; this is the API chaos/ reads load results through.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from hdrh.histogram import HdrHistogram

from loadtests.errors import SamplesInvalid
from loadtests.samples import (
    FORMAT,
    SAMPLES_FILE,
    VERSION,
    SampleLine,
    TracedRequest,
    decode_histogram,
    new_histogram,
    parse_line,
    slowest,
)

MAX_WINDOW_TRACES = 20  # traced requests a window keeps: the slowest ones

Outcome = Literal["all", "ok", "failed"]


@dataclass(frozen=True)
class Window:
    """A named time range [start, end) in unix seconds."""

    name: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end < self.start:
            raise ValueError(
                f"window {self.name!r} must have start <= end, got [{self.start}, {self.end})"
            )

    def contains(self, second: int) -> bool:
        """True when the second [second, second+1) belongs to this window (by its midpoint)."""
        return self.start <= second + 0.5 < self.end

    @property
    def seconds(self) -> int:
        """How many whole seconds belong to this window."""
        return math.ceil(self.end - 0.5) - math.ceil(self.start - 0.5)

    def whole_seconds(self) -> list[int]:
        """Every second that belongs to this window, ascending (`contains` of each is True)."""
        return list(range(math.ceil(self.start - 0.5), math.ceil(self.end - 0.5)))


@dataclass(frozen=True)
class WindowSet(Window):
    """Several time ranges judged as one window (e.g. the quiet seconds between faults).

    `start` and `end` span all parts; only the seconds inside a part belong to it.
    """

    parts: tuple[Window, ...] = ()

    @classmethod
    def of(cls, name: str, parts: list[Window] | tuple[Window, ...]) -> WindowSet:
        """The union of `parts` (at least one), named `name`."""
        if not parts:
            raise ValueError(f"window set {name!r} needs at least one part")
        ordered = tuple(sorted(parts, key=lambda w: w.start))
        return cls(name, ordered[0].start, max(p.end for p in ordered), ordered)

    def contains(self, second: int) -> bool:
        """True when the second belongs to one of the parts."""
        return any(part.contains(second) for part in self.parts)

    @property
    def seconds(self) -> int:
        """Whole seconds in all parts together."""
        return sum(part.seconds for part in self.parts)

    def whole_seconds(self) -> list[int]:
        """Every second of every part, ascending, none twice."""
        return sorted({s for part in self.parts for s in part.whole_seconds()})


@dataclass
class _Cell:
    count: int = 0
    failures: int = 0
    dropped: int = 0
    late: int = 0
    ok: HdrHistogram | None = None
    failed: HdrHistogram | None = None
    errors: dict[str, int] = field(default_factory=dict)
    traces: list[TracedRequest] = field(default_factory=list)

    def add(self, line: SampleLine) -> None:
        self.count += line.count
        self.failures += line.failures
        self.dropped += line.dropped
        self.late += line.late
        for kind, n in line.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.traces.extend(line.traces)
        # Decoded once here: windows are merged many times (verdicts, recovery search).
        if line.ok:
            self.ok = self.ok or new_histogram()
            self.ok.add(decode_histogram(line.ok))
        if line.failed:
            self.failed = self.failed or new_histogram()
            self.failed.add(decode_histogram(line.failed))


@dataclass(frozen=True)
class WindowStats:
    """One journey's requests in one window, with exact latency histograms (microseconds)."""

    journey: str
    window: Window
    count: int
    failures: int
    dropped: int
    late: int
    ok: HdrHistogram = field(repr=False)
    failed: HdrHistogram = field(repr=False)
    errors: dict[str, int] = field(default_factory=dict)  # failures by kind: '503', 'ReadTimeout'
    traces: tuple[TracedRequest, ...] = ()  # the slowest traced requests, slowest first

    @property
    def seconds(self) -> int:
        """Seconds covered by the window (the denominator of every rate)."""
        return self.window.seconds

    @property
    def offered(self) -> int:
        """Requests asked for: completed ones plus open-model arrivals dropped unsent."""
        return self.count + self.dropped

    @property
    def throughput(self) -> float:
        """Achieved rate: completed requests per second."""
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def offered_rate(self) -> float:
        """Offered rate: requests asked for per second (equals throughput for closed users)."""
        return self.offered / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        """(failures + dropped) / offered; 0.0 when nothing was offered."""
        return (self.failures + self.dropped) / self.offered if self.offered else 0.0

    @cached_property
    def latency(self) -> HdrHistogram:
        """Latency of every completed request, successful or not."""
        merged = new_histogram()
        merged.add(self.ok)
        merged.add(self.failed)
        return merged

    def histogram(self, outcome: Outcome = "all") -> HdrHistogram:
        """The latency histogram of `outcome`: all requests, successes or failures."""
        return {"all": self.latency, "ok": self.ok, "failed": self.failed}[outcome]

    def percentile_ms(self, percentile: float, outcome: Outcome = "all") -> float | None:
        """Latency (ms) at `percentile` (0-100) of `outcome`; None when there is none."""
        histogram = self.histogram(outcome)
        if not histogram.get_total_count():
            return None
        return value_at_percentile(histogram, percentile) / 1000.0

    def max_ms(self, outcome: Outcome = "all") -> float | None:
        """The slowest latency (ms) of `outcome`; None when there is none."""
        histogram = self.histogram(outcome)
        return histogram.get_max_value() / 1000.0 if histogram.get_total_count() else None

    def mean_ms(self, outcome: Outcome = "all") -> float | None:
        """Mean latency (ms) of `outcome`; None when there is none."""
        histogram = self.histogram(outcome)
        return histogram.get_mean_value() / 1000.0 if histogram.get_total_count() else None

    def value_counts(self, outcome: Outcome = "all") -> list[tuple[float, int]]:
        """(latency ms, count) per histogram bucket, ascending: input for statistical tests."""
        # hdrh's recorded iterator walks every sub-bucket in Python; the counts array is
        # read directly instead, and only its non-empty buckets are converted.
        histogram = self.histogram(outcome)
        counts = np.ctypeslib.as_array(histogram.counts)
        return [
            (
                histogram.get_highest_equivalent_value(histogram.get_value_from_index(int(i)))
                / 1000.0,
                int(counts[i]),
            )
            for i in np.flatnonzero(counts)
        ]


def value_at_percentile(histogram: HdrHistogram, percentile: float) -> int:
    """`histogram.get_value_at_percentile(percentile)`, the same value, computed with numpy.

    hdrh walks every bucket in Python (about 3 ms a call on a merged histogram); a matrix
    asks for thousands of percentiles, and its recovery polls ask while the system runs.
    """
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.encoder.payload.counts_len]
    target = histogram.get_target_count_at_percentile(percentile)
    index = int(np.searchsorted(np.cumsum(counts), target))
    if index >= len(counts):
        return 0
    value = histogram.get_value_from_index(index)
    if percentile:
        return int(histogram.get_highest_equivalent_value(value))
    return int(histogram.get_lowest_equivalent_value(value))


class SampleSet:
    """Every (journey, second) of a run, histograms kept encoded until a window asks."""

    def __init__(self, lines: list[SampleLine] | None = None) -> None:
        self._cells: dict[str, dict[int, _Cell]] = {}
        for line in lines or []:
            self.add(line)

    def add(self, line: SampleLine) -> None:
        """Add one line (lines for the same journey and second are summed)."""
        per_second = self._cells.setdefault(line.journey, {})
        per_second.setdefault(line.second, _Cell()).add(line)

    @property
    def journeys(self) -> tuple[str, ...]:
        """Journey names seen, sorted."""
        return tuple(sorted(self._cells))

    def seconds(self, journey: str | None = None) -> list[int]:
        """Seconds that have samples, for one journey or for all, ascending."""
        if journey is not None:
            return sorted(self._cells.get(journey, {}))
        return sorted({s for per_second in self._cells.values() for s in per_second})

    @property
    def span(self) -> Window | None:
        """The whole run: from the first second with a sample to the end of the last one."""
        seconds = self.seconds()
        if not seconds:
            return None
        return Window("run", float(seconds[0]), float(seconds[-1] + 1))

    def stats(self, journey: str, window: Window | None = None) -> WindowStats:
        """Merge `journey`'s seconds that belong to `window` (default: the whole run)."""
        window = window or self.span or Window("run", 0.0, 0.0)
        total = _Cell()
        ok, failed = new_histogram(), new_histogram()
        for cell in self._inside(journey, window):
            total.count += cell.count
            total.failures += cell.failures
            total.dropped += cell.dropped
            total.late += cell.late
            for kind, n in cell.errors.items():
                total.errors[kind] = total.errors.get(kind, 0) + n
            total.traces.extend(cell.traces)
            if cell.ok is not None:
                ok.add(cell.ok)
            if cell.failed is not None:
                failed.add(cell.failed)
        return WindowStats(
            journey,
            window,
            total.count,
            total.failures,
            total.dropped,
            total.late,
            ok,
            failed,
            total.errors,
            tuple(slowest(total.traces, MAX_WINDOW_TRACES)),
        )

    def trace_ids(self, journey: str, window: Window | None = None) -> list[str]:
        """Every traced request's trace id of `journey` in `window` (default: the whole run)."""
        window = window or self.span or Window("run", 0.0, 0.0)
        return [t.trace_id for cell in self._inside(journey, window) for t in cell.traces]

    def _inside(self, journey: str, window: Window) -> list[_Cell]:
        """`journey`'s seconds that belong to `window`, in the order they were added."""
        per_second = self._cells.get(journey, {})
        if window.seconds > len(per_second):  # a window wider than the samples: scan those
            return [cell for second, cell in per_second.items() if window.contains(second)]
        return [per_second[s] for s in window.whole_seconds() if s in per_second]

    def per_second(self, journey: str) -> Iterator[WindowStats]:
        """One WindowStats per second that has samples for `journey` (for plots)."""
        for second in self.seconds(journey):
            yield self.stats(journey, Window(str(second), float(second), float(second + 1)))

    def windows(self, size: float, *, start: float | None = None) -> list[Window]:
        """Consecutive full windows of `size` seconds from `start` (default: run start)."""
        span = self.span
        if span is None or size <= 0:
            return []
        first = span.start if start is None else start
        count = math.floor((span.end - first) / size + 1e-9)
        return [
            Window(f"{i * size:g}s-{(i + 1) * size:g}s", first + i * size, first + (i + 1) * size)
            for i in range(max(count, 0))
        ]


def read_samples(path: Path | str) -> SampleSet:
    """Read a samples file; a torn last line (the writer is still running) is ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SamplesInvalid(
            f"cannot read samples file {path}: {exc.strerror}; "
            "pass the run directory the load process wrote to (--gameday-run-dir)"
        ) from exc
    lines = text.split("\n")
    torn_last = not text.endswith("\n")
    samples = SampleSet()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            if torn_last and number == len(lines):
                break
            raise SamplesInvalid(f"{where}: not JSON ({exc.msg})") from exc
        if number == 1:
            _check_header(data, where)
            continue
        samples.add(parse_line(data, where))
    return samples


class SamplesFollower:
    """Reads a samples file while it grows: each poll parses only the complete new lines.

    For live views, which would otherwise re-read the whole file every second.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.samples = SampleSet()
        self._offset = 0
        self._lines = 0

    def poll(self) -> SampleSet:
        """Add the lines written since the last poll; a missing file is simply not there yet."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return self.samples
        complete = data[: data.rfind(b"\n") + 1]  # a torn last line waits for the next poll
        self._offset += len(complete)
        for raw in complete.decode("utf-8").splitlines():
            self._lines += 1
            if not raw.strip():
                continue
            where = f"{self.path}:{self._lines}"
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SamplesInvalid(f"{where}: not JSON ({exc.msg})") from exc
            if self._lines == 1:
                _check_header(line, where)
            else:
                self.samples.add(parse_line(line, where))
        return self.samples


def read_run(run_dir: Path | str) -> SampleSet:
    """The samples of the run written to `run_dir` (its samples.jsonl)."""
    return read_samples(Path(run_dir) / SAMPLES_FILE)


def _check_header(data: object, where: str) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SamplesInvalid(
            f"{where}: first line is not a {FORMAT} header; is this a gameday samples file?"
        )
    if data.get("version") != VERSION:
        raise SamplesInvalid(
            f"{where}: samples format version {data.get('version')!r}, this gameday reads "
            f"version {VERSION}; read it with the gameday version that wrote it"
        )
