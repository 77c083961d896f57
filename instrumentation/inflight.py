"""The in-flight requests gauge, counted without taking a lock per request.

prometheus-client's `Gauge.inc` and `Gauge.dec` take the child's lock each: 8.8 k
instructions per request for the pair (callgrind, prometheus-client 0.26), a quarter of the
whole metrics layer. Where the gauge's value lives in this process's memory, `InFlight`
counts requests started and requests finished in two `itertools.count` objects, each
advanced by a single C call that the GIL keeps whole, and the gauge reports their difference
when it is scraped (`Gauge.set_function`, prometheus-client's own API for a value computed at
scrape time). Reading advances both counts by one, which leaves the difference as it was.

That promise is the GIL's: a free-threaded interpreter (3.13t) does not make it, and this
module has only been tested on the GIL build.

With PROMETHEUS_MULTIPROC_DIR the value lives in a file that the scraping process reads, and
a function cannot be read from there: those gauges keep `inc` and `dec`.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable

from prometheus_client import Gauge


class InFlight:
    """`enter()` when a request starts and `leave()` when it ends; the gauge child follows.

    Build it through `in_flight(child)`: a child has one function, so every middleware that
    counts into the same child (two apps instrumented on one registry) shares one InFlight.
    """

    __slots__ = ("enter", "leave")

    def __init__(self, child: Gauge, *, multiprocess: bool) -> None:
        self.enter: Callable[[], object]
        self.leave: Callable[[], object]
        if multiprocess:
            self.enter, self.leave = child.inc, child.dec
            return
        started, finished = itertools.count(), itertools.count()
        self.enter, self.leave = started.__next__, finished.__next__
        child.set_function(lambda: next(started) - next(finished))


_shared: weakref.WeakKeyDictionary[Gauge, InFlight] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def in_flight(child: Gauge, *, multiprocess: bool) -> InFlight:
    """The one InFlight that counts into the gauge child `child`."""
    with _lock:
        found = _shared.get(child)
        if found is None:
            found = _shared[child] = InFlight(child, multiprocess=multiprocess)
        return found
