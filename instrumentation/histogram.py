"""A prometheus-client `Histogram` whose `observe` takes no lock: one shard of counts per thread.

prometheus-client's `Histogram.observe` takes the child's lock twice (the sum, then the
bucket) and searches the buckets in Python: 7.7 k instructions per call (callgrind,
prometheus-client 0.26), the biggest single cost of the request metrics. `ShardedHistogram`
is the same metric family (same registration, labels, exposition, exemplars, `_created`):
only where a child keeps its counts differs. Each thread that observes a child gets its own
list of bucket counts and sum, found by its thread id, and is the only thread that ever
writes it, so no update is lost without a lock — on any interpreter, not only because
CPython's GIL happens not to switch threads inside `counts[i] += 1` (a free-threaded build
gives no such promise). The bucket is found by `bisect` in C. A scrape adds the shards up.
A thread id is the pthread handle, which glibc hands to a new thread once an old one has
finished (200 threads started one after another share one id), and a new thread with a
reused id goes on counting in that shard: the shards stay about as many as the threads alive
at once, 16 floats each (15 buckets and the sum).

With PROMETHEUS_MULTIPROC_DIR the counts must live in prometheus-client's files, which
another process reads: `histogram_class()` then answers prometheus-client's own `Histogram`.

tests/instrumentation/test_histogram.py checks the exposition against prometheus-client's
`Histogram` fed the same observations, and counts under threads.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import Histogram, values
from prometheus_client import metrics as client_metrics
from prometheus_client.samples import Exemplar, Sample
from prometheus_client.utils import floatToGoString
from prometheus_client.validation import _validate_exemplar

TRACE_ID_LABEL = "trace_id"

_get_ident = threading.get_ident


class ShardedHistogram(Histogram):
    """`Histogram` with lock-free, per-thread counts in its children; see the module doc."""

    def _metric_init(self) -> None:
        # Called for each observable child (and an unlabelled family) instead of the parent's,
        # which builds a locked value per bucket.
        self._created = time.time()
        self._shards: dict[int, list[float]] = {}
        self._shards_lock = threading.Lock()
        self._exemplars: list[Exemplar | None] = [None] * len(self._upper_bounds)
        self._bounds = tuple(self._upper_bounds)

    def _shard(self) -> list[float]:
        self._raise_if_not_observable()  # type: ignore[no-untyped-call]
        with self._shards_lock:
            # Bucket counts (not cumulative), then the sum.
            return self._shards.setdefault(_get_ident(), [0.0] * (len(self._upper_bounds) + 1))

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        """Observe `amount`, with an optional exemplar, as `Histogram.observe` does."""
        try:
            shard = self._shards[_get_ident()]
        except (KeyError, AttributeError):  # a new thread; or a family that has labels
            shard = self._shard()
        shard[-1] += amount
        if amount != amount:  # NaN: in the sum only, as prometheus-client counts it
            return
        bucket = bisect_left(self._bounds, amount)
        shard[bucket] += 1.0
        if exemplar:  # validated after counting, as prometheus-client does
            _validate_exemplar(exemplar)  # type: ignore[no-untyped-call]
            self._exemplars[bucket] = Exemplar(exemplar, amount, time.time())

    def observe_traced(self, amount: float, trace_id: str) -> None:
        """Observe `amount` with a `trace_id` exemplar; `trace_id` is a trace id as 32 hex
        digits, which fits the exemplar's 128-character limit, so it is not validated."""
        self.observe(amount)
        if amount == amount:
            exemplar = Exemplar({TRACE_ID_LABEL: trace_id}, amount, time.time())
            self._exemplars[bisect_left(self._bounds, amount)] = exemplar

    def _child_samples(self) -> Iterable[Sample]:
        with self._shards_lock:
            shards = list(self._shards.values())
        # Plain sums, as the stock class adds: fsum raises on inf + -inf and on overflow.
        totals = [sum(column) for column in zip(*shards, strict=True)] if shards else []
        if not totals:
            totals = [0.0] * (len(self._upper_bounds) + 1)
        samples = []
        cumulative = 0.0
        for bucket, bound in enumerate(self._upper_bounds):
            cumulative += totals[bucket]
            le = floatToGoString(bound)  # type: ignore[no-untyped-call]
            samples.append(Sample("_bucket", {"le": le}, cumulative, None, self._exemplars[bucket]))
        samples.append(Sample("_count", {}, cumulative, None, None))
        if self._upper_bounds[0] >= 0:
            samples.append(Sample("_sum", {}, totals[-1], None, None))
        if client_metrics._use_created:
            samples.append(Sample("_created", {}, self._created, None, None))
        return tuple(samples)


def observe_traced(child: Histogram, amount: float, trace_id: str) -> None:
    """Observe `amount` on `child` (of either class) with a `trace_id` exemplar."""
    if type(child) is ShardedHistogram:
        child.observe_traced(amount, trace_id)
    else:
        child.observe(amount, {TRACE_ID_LABEL: trace_id})


def histogram_class() -> type[Histogram]:
    """`ShardedHistogram` where counts live in this process, `Histogram` for multi-process."""
    return ShardedHistogram if values.ValueClass is values.MutexValue else Histogram
