"""Per-second, per-journey load samples and their file format (JSON lines).

A sample is what happened to one journey in one wall-clock second: how many requests
completed, failed, were dropped or started late, and the latency of each request in two
HdrHistograms (successes, failures). A request belongs to the second of its start — the
*intended* start for the open-model user — so a slow request counts where it was asked for.

The file, ``samples.jsonl`` in the run directory, starts with a header line and then holds
one JSON object per (journey, second) delta::

    {"format": "gameday-samples", "version": 1, "latency_unit": "us", ...}
    {"journey": "checkout", "second": 1732240000, "count": 12, "failures": 1,
     "dropped": 0, "late": 0, "ok": "HISTFAAAA...", "failed": "HISTFAAAA..."}

Lines are additive: the same (journey, second) may appear several times (a late completion,
another worker) and a reader sums them. Histograms are HdrHistogram V2 blobs (base64, the
format every HdrHistogram implementation reads) of latency in microseconds, so summing
seconds into a window is exact: merged percentiles equal those of one histogram that saw
every request. Reading lives in `loadtests.windows`.

A line may also carry ``"traces"``: the slowest traced requests of that second (at most
MAX_TRACES, as ``[latency_ms, trace_id, failed]``), so that a report can name the traces of the
slowest requests of a window and the call graph of a journey can be read from its spans.

Pure: no Locust, no gevent; safe to import from chaos/.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from hdrh.histogram import HdrHistogram

from loadtests.errors import SamplesInvalid

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
FORMAT = "gameday-samples"
VERSION = 1
LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: anything slower is clamped, and counted
SIGNIFICANT_FIGURES = 3
MAX_JOURNEYS = 100
OTHER_JOURNEY = "(other)"
MAX_ERROR_KINDS = 16  # distinct failure kinds kept per sample; the rest count as OTHER_ERROR
OTHER_ERROR = "other"
MAX_TRACES = 5  # traced requests kept per sample: the slowest ones

HEADER: dict[str, Any] = {
    "format": FORMAT,
    "version": VERSION,
    "latency_unit": "us",
    "histogram": "HdrHistogram V2, base64",
    "lowest_us": LOWEST_US,
    "highest_us": HIGHEST_US,
    "significant_figures": SIGNIFICANT_FIGURES,
}


def new_histogram() -> HdrHistogram:
    """An empty latency histogram with the file's fixed range and precision."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def record_ms(histogram: HdrHistogram, latency_ms: float) -> None:
    """Record `latency_ms` (milliseconds) into `histogram`, clamped to its range."""
    micros = round(latency_ms * 1000.0)
    histogram.record_value(min(max(micros, LOWEST_US), HIGHEST_US))


def failure_kind(exception: BaseException | None, response: object = None) -> str | None:
    """What a failure was: the HTTP status code ('503') when there was one, else the
    exception's class name ('ConnectionError'); None for a success."""
    for source in (response, getattr(exception, "response", None)):
        status = getattr(source, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return str(status)
    if exception is None:
        return None
    return type(exception).__name__


def decode_histogram(blob: str) -> HdrHistogram:
    """A histogram from its base64 HdrHistogram V2 form (as written in samples files)."""
    return HdrHistogram.decode(blob.encode("ascii"))


def encode_histogram(histogram: HdrHistogram) -> str:
    """The base64 HdrHistogram V2 form of `histogram`."""
    blob: bytes = histogram.encode()
    return blob.decode("ascii")


@dataclass
class Sample:
    """What happened to one journey during one wall-clock second (a mutable accumulator)."""

    journey: str
    second: int
    count: int = 0
    failures: int = 0
    dropped: int = 0
    late: int = 0
    ok: HdrHistogram | None = field(default=None, repr=False)
    failed: HdrHistogram | None = field(default=None, repr=False)
    errors: dict[str, int] = field(default_factory=dict)
    traces: list[TracedRequest] = field(default_factory=list)

    def count_error(self, kind: str, n: int = 1) -> None:
        """Count `n` failures of `kind` (bounded: past MAX_ERROR_KINDS they go to OTHER_ERROR)."""
        if kind not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
            kind = OTHER_ERROR
        self.errors[kind] = self.errors.get(kind, 0) + n

    def record(
        self,
        latency_ms: float | None,
        *,
        failed: bool,
        late: bool = False,
        error: str | None = None,
        trace_ids: tuple[str, ...] = (),
    ) -> None:
        """Count one completed request and its latency (ms; None when it has none)."""
        if trace_ids and latency_ms is not None:
            self.keep_traces(TracedRequest(latency_ms, t, failed) for t in trace_ids)
        self.count += 1
        self.late += int(late)
        self.failures += int(failed)
        if failed:
            self.count_error(error or OTHER_ERROR)
        if latency_ms is None:
            return
        if failed:
            self.failed = self.failed or new_histogram()
            record_ms(self.failed, latency_ms)
        else:
            self.ok = self.ok or new_histogram()
            record_ms(self.ok, latency_ms)

    def merge(self, other: Sample) -> None:
        """Add `other` (same journey and second) into this sample."""
        if (other.journey, other.second) != (self.journey, self.second):
            raise ValueError(
                f"cannot merge {other.journey}@{other.second} into {self.journey}@{self.second}"
            )
        self.count += other.count
        self.failures += other.failures
        self.dropped += other.dropped
        self.late += other.late
        if other.ok is not None:
            self.ok = self.ok or new_histogram()
            self.ok.add(other.ok)
        if other.failed is not None:
            self.failed = self.failed or new_histogram()
            self.failed.add(other.failed)
        for kind, n in other.errors.items():
            self.count_error(kind, n)
        self.keep_traces(other.traces)

    def keep_traces(self, traces: Iterable[TracedRequest]) -> None:
        """Add traced requests, keeping only the MAX_TRACES slowest."""
        self.traces = slowest([*self.traces, *traces], MAX_TRACES)

    def to_line(self) -> dict[str, Any]:
        """The JSON-ready dict written as one line of the samples file."""
        line: dict[str, Any] = {
            "journey": self.journey,
            "second": self.second,
            "count": self.count,
            "failures": self.failures,
            "dropped": self.dropped,
            "late": self.late,
        }
        if self.ok is not None and self.ok.get_total_count():
            line["ok"] = encode_histogram(self.ok)
        if self.failed is not None and self.failed.get_total_count():
            line["failed"] = encode_histogram(self.failed)
        if self.errors:
            line["errors"] = dict(self.errors)
        if self.traces:
            line["traces"] = [[round(t.latency_ms, 3), t.trace_id, t.failed] for t in self.traces]
        return line

    @classmethod
    def from_line(cls, line: Mapping[str, Any], where: str) -> Sample:
        """Parse one samples-file line; `where` (file:line or a worker id) goes in errors."""
        fields = parse_line(line, where)
        return cls(
            journey=fields.journey,
            second=fields.second,
            count=fields.count,
            failures=fields.failures,
            dropped=fields.dropped,
            late=fields.late,
            ok=decode_histogram(fields.ok) if fields.ok else None,
            failed=decode_histogram(fields.failed) if fields.failed else None,
            errors=dict(fields.errors),
            traces=list(fields.traces),
        )


@dataclass(frozen=True)
class TracedRequest:
    """A request that carried a sampled W3C trace context: its latency, trace id and outcome."""

    latency_ms: float
    trace_id: str  # 32 lower-case hex digits
    failed: bool = False


def slowest(traces: Iterable[TracedRequest], n: int) -> list[TracedRequest]:
    """The `n` slowest of `traces`, slowest first."""
    return sorted(traces, key=lambda t: t.latency_ms, reverse=True)[:n]


@dataclass(frozen=True)
class SampleLine:
    """One validated line of a samples file, histograms still encoded."""

    journey: str
    second: int
    count: int
    failures: int
    dropped: int
    late: int
    ok: str | None
    failed: str | None
    errors: Mapping[str, int] = field(default_factory=dict)  # failures by kind ('503', ...)
    traces: tuple[TracedRequest, ...] = ()


def parse_line(line: Mapping[str, Any], where: str) -> SampleLine:
    """Validate one decoded JSON line; raise SamplesInvalid naming `where` and the bad field."""
    if not isinstance(line, Mapping):
        raise SamplesInvalid(f"{where}: expected a JSON object, got {line!r}")
    journey = line.get("journey")
    if not isinstance(journey, str) or not journey:
        raise SamplesInvalid(f"{where}: 'journey' must be a non-empty string, got {journey!r}")
    numbers: dict[str, int] = {}
    for name in ("second", "count", "failures", "dropped", "late"):
        value = line.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SamplesInvalid(f"{where}: {name!r} must be a non-negative integer, got {value!r}")
        numbers[name] = value
    if numbers["failures"] > numbers["count"]:
        raise SamplesInvalid(
            f"{where}: failures ({numbers['failures']}) exceed count ({numbers['count']})"
        )
    blobs: dict[str, str | None] = {}
    for name in ("ok", "failed"):
        blob = line.get(name)
        if blob is not None and (not isinstance(blob, str) or not blob.startswith("HIST")):
            raise SamplesInvalid(f"{where}: {name!r} must be a base64 HdrHistogram blob")
        blobs[name] = blob
    errors = line.get("errors", {})
    if not isinstance(errors, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in errors.items()
    ):
        raise SamplesInvalid(f"{where}: 'errors' must map failure kinds to counts, got {errors!r}")
    return SampleLine(
        journey=journey,
        ok=blobs["ok"],
        failed=blobs["failed"],
        errors=dict(errors),
        traces=_parse_traces(line.get("traces", []), where),
        **numbers,
    )


def _parse_traces(raw: object, where: str) -> tuple[TracedRequest, ...]:
    problem = f"{where}: 'traces' must be a list of [latency_ms, trace_id, failed], got {raw!r}"
    if not isinstance(raw, list):
        raise SamplesInvalid(problem)
    traces = []
    for item in raw:
        if not (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], int | float)
            and isinstance(item[1], str)
            and len(item[1]) == 32
            and isinstance(item[2], bool)
        ):
            raise SamplesInvalid(problem)
        traces.append(TracedRequest(float(item[0]), item[1], item[2]))
    return tuple(traces)


class SampleAccumulator:
    """Samples being collected in one process, keyed by (journey, second), drained on flush.

    Journey names come from request names, so their number is bounded (`max_journeys`):
    beyond it every new name is counted as OTHER_JOURNEY and a warning is logged once.
    """

    def __init__(self, *, max_journeys: int = MAX_JOURNEYS) -> None:
        self._pending: dict[tuple[str, int], Sample] = {}
        self._journeys: set[str] = set()
        self._max_journeys = max_journeys
        self._warned = False

    def _journey(self, name: str) -> str:
        if name in self._journeys:
            return name
        if len(self._journeys) < self._max_journeys:
            self._journeys.add(name)
            return name
        if not self._warned:
            self._warned = True
            logger.warning(
                "more than %d journeys; %r and later names are counted as %r. Name requests "
                "(name=...) or set context['journey'] so that journeys are a small fixed set",
                self._max_journeys,
                name,
                OTHER_JOURNEY,
            )
        return OTHER_JOURNEY

    def _sample(self, journey: str, second: int) -> Sample:
        key = (self._journey(journey), second)
        sample = self._pending.get(key)
        if sample is None:
            sample = self._pending[key] = Sample(key[0], second)
        return sample

    def record(
        self,
        journey: str,
        second: int,
        latency_ms: float | None,
        *,
        failed: bool,
        late: bool = False,
        error: str | None = None,
        trace_ids: tuple[str, ...] = (),
    ) -> None:
        """Count one completed request of `journey` that started during `second`."""
        self._sample(journey, second).record(
            latency_ms, failed=failed, late=late, error=error, trace_ids=trace_ids
        )

    def record_dropped(self, journey: str, second: int) -> None:
        """Count one open-model arrival of `journey`, due in `second`, that was never sent."""
        self._sample(journey, second).dropped += 1

    def add(self, sample: Sample) -> None:
        """Merge a sample collected elsewhere (another worker) into the pending ones."""
        renamed = replace(sample, journey=self._journey(sample.journey))
        self._sample(renamed.journey, renamed.second).merge(renamed)

    def drain(self) -> list[Sample]:
        """Return and forget the pending samples, ordered by second then journey."""
        samples = sorted(self._pending.values(), key=lambda s: (s.second, s.journey))
        self._pending = {}
        return samples

    def __len__(self) -> int:
        return len(self._pending)


class SamplesWriter:
    """Appends samples to a samples file, writing the header first when the file is new."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        if self._file.tell() == 0:
            self._file.write(json.dumps(HEADER) + "\n")
            self._file.flush()

    def write(self, samples: Iterable[Sample]) -> int:
        """Append `samples` as lines and flush, so a reader sees them at once; return how many."""
        written = 0
        for sample in samples:
            self._file.write(json.dumps(sample.to_line(), separators=(",", ":")) + "\n")
            written += 1
        self._file.flush()
        return written

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._file.closed

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> SamplesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
