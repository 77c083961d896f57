"""Exemplars across worker processes (PROMETHEUS_MULTIPROC_DIR), which prometheus-client drops.

In multi-process mode prometheus-client keeps each sample in a shared memory-mapped file of
plain numbers; an exemplar (a trace id, a value, a time) has no place there, so its
multi-process values ignore them. Here each worker keeps, per histogram bucket, the newest
exemplar it observed, and a background thread writes them every second to its own file in
the same directory (`exemplars_<pid>.json`, replaced atomically). The process answering
`/metrics` puts the newest exemplar of each bucket, over all those files, on the summed
bucket samples (`ExemplarsAcrossProcesses`). An exemplar is at most a second late, and one
of a worker that has exited stays until a newer one replaces it: both harmless for "show me
a trace that landed in this bucket".
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from instrumentation.metrics import multiprocess_dir

logger = logging.getLogger(__name__)

WRITE_INTERVAL = 1.0  # seconds between two writes of a worker's exemplars
_PREFIX = "exemplars_"

# (metric name, label values in the family's order, bucket bound) -> (trace id, value, time)
_Key = tuple[str, tuple[str, ...], str]


class ExemplarStore:
    """One worker's newest exemplar per histogram bucket, written to its file every second."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self._latest: dict[_Key, tuple[str, float, float]] = {}
        self._bounds: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._writer: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # A forked worker has its own file; its thread starts with its first exemplar.
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._writer = None

    def offer(
        self,
        metric: str,
        buckets: tuple[float, ...],
        labels: tuple[str, ...],
        value: float,
        trace_id: str,
    ) -> None:
        """Keep `trace_id` as the newest exemplar of the bucket `value` falls into."""
        found = self._bounds.get(metric)
        if found is None:
            bounds = (*buckets, float("inf"))
            names = tuple(floatToGoString(b) for b in bounds)  # type: ignore[no-untyped-call]
            found = self._bounds[metric] = (bounds, names)
        bounds, names = found
        key = (metric, labels, names[min(bisect.bisect_left(bounds, value), len(names) - 1)])
        self._latest[key] = (trace_id, value, time.time())
        self._changed.set()
        if self._writer is None:
            self._start_writer()

    def _start_writer(self) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="gameday-exemplars", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            self._changed.wait()
            self._changed.clear()
            try:
                self.write()
            except OSError as exc:
                logger.warning("could not write exemplars to %s: %r", self.directory, exc)
            time.sleep(WRITE_INTERVAL)

    def write(self) -> None:
        """Write this worker's exemplars now (atomically: readers see old or new, never half)."""
        rows = [[name, list(labels), bound, *entry]
                for (name, labels, bound), entry in list(self._latest.items())]  # fmt: skip
        path = self.directory / f"{_PREFIX}{os.getpid()}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(rows))
        temporary.replace(path)


_shared: dict[str, ExemplarStore] = {}


def shared_store() -> ExemplarStore | None:
    """This process's store when metrics are multi-process (PROMETHEUS_MULTIPROC_DIR), else None."""
    directory = multiprocess_dir()
    if directory is None:
        return None
    store = _shared.get(directory)
    if store is None:
        store = _shared.setdefault(directory, ExemplarStore(directory))
    return store


def read_exemplars(directory: str) -> dict[_Key, Exemplar]:
    """The newest exemplar of each bucket over every worker's file in `directory`."""
    newest: dict[_Key, Exemplar] = {}
    for path in Path(directory).glob(f"{_PREFIX}*.json"):
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a file being replaced, or left broken by a crash: skip it
        for metric, labels, bound, trace_id, value, stamp in rows:
            key = (metric, tuple(labels), bound)
            held = newest.get(key)
            if held is None or (held.timestamp or 0) < stamp:
                newest[key] = Exemplar({"trace_id": trace_id}, value, stamp)
    return newest


class ExemplarsAcrossProcesses(Collector):
    """Wraps a multi-process collector; adds the newest exemplar to each histogram bucket."""

    def __init__(self, inner: Any, directory: str, label_names: dict[str, tuple[str, ...]]) -> None:
        self.inner = inner
        self.directory = directory
        self.label_names = label_names  # histogram name -> its label names, in order

    def collect(self) -> Iterable[Any]:
        exemplars = read_exemplars(self.directory)
        for family in self.inner.collect():
            names = self.label_names.get(family.name)
            if names is not None and exemplars:
                family.samples = list(_with_exemplars(family.samples, names, exemplars))
            yield family


def _with_exemplars(
    samples: Iterable[Any], names: tuple[str, ...], exemplars: dict[_Key, Exemplar]
) -> Iterator[Any]:
    for sample in samples:
        if sample.name.endswith("_bucket") and sample.exemplar is None:
            values = tuple(sample.labels.get(n, "") for n in names)
            found = exemplars.get((sample.name[: -len("_bucket")], values, sample.labels["le"]))
            if found is not None:
                sample = sample._replace(exemplar=found)
        yield sample
