"""Deadlines on the monotonic clock, precise to tens of microseconds.

Event-loop timers have millisecond granularity (uvloop rounds delays to ms against a clock
cached once per iteration), which makes a 50 ms latency toxic 0.3-1 ms late at the median and
worse at p99. On Linux the proxy arms one timerfd (CLOCK_MONOTONIC, absolute) for the earliest
deadline and lets the loop watch it, so the kernel's hrtimers fire it. Elsewhere it falls back
to `loop.call_later`.

A process idle for a while is not running when its timer fires: the kernel must wake it, and
on a shared machine (or a VM) that takes tens of µs to milliseconds. So the timerfd is armed a
little *before* the deadline — by `lead`, learnt from how late recent wake-ups came (it grows
at once with a late one and shrinks slowly, so it tracks an upper quantile; at most 1 ms) — and
the last stretch is covered by running the loop without sleeping (other connections are
served meanwhile) until the deadline. When wake-ups are prompt the lead, and the CPU spent
waiting, shrink towards zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import heapq
import os
import time
from collections.abc import Callable
from typing import Final

_CLOCK_MONOTONIC: Final = 1
_TFD_NONBLOCK: Final = os.O_NONBLOCK
_TFD_CLOEXEC: Final = os.O_CLOEXEC
_TFD_TIMER_ABSTIME: Final = 1
LEAD_MAX: Final = 0.001  # never wake more than this before a deadline
_LEAD_UP: Final = 0.3  # how fast the lead follows a later wake-up than expected
_LEAD_DOWN: Final = 0.02  # ... and an earlier one
SPIN_SHARE: Final = 0.05  # at most this share of the time goes to waiting awake, on average
SPIN_BURST: Final = 0.01  # ... with bursts of up to this many seconds


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
    except (OSError, AttributeError):
        return None
    return libc


class Timer:
    """A scheduled callback; `cancel()` makes it a no-op."""

    __slots__ = ("callback", "deadline", "handle", "owner")

    def __init__(self, deadline: float, callback: Callable[[], None], owner: Timers | None) -> None:
        self.deadline = deadline
        self.callback: Callable[[], None] | None = callback
        self.handle: asyncio.TimerHandle | None = None
        self.owner = owner

    def __lt__(self, other: Timer) -> bool:
        return self.deadline < other.deadline

    def cancel(self) -> None:
        """Do not call back."""
        if self.callback is not None and self.owner is not None:
            self.owner.cancelled()
        self.callback = None
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def fire(self) -> None:
        """Call back (once)."""
        callback, self.callback = self.callback, None
        self.owner = None
        if callback is not None:
            callback()


class Timers:
    """Callbacks at monotonic deadlines for one event loop; `close()` releases the timerfd."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, precise: bool = True) -> None:
        self._loop = loop
        self._heap: list[Timer] = []
        self._dead = 0  # cancelled entries still in the heap
        self._armed: float | None = None  # the deadline the timerfd is armed for
        self._fire_at: float | None = None  # when it is set to fire (the deadline - lead)
        self._lead = 0.0
        self._spinning = False
        self._spin_last = 0.0  # when the loop last passed through _spin
        self._budget = SPIN_BURST  # seconds of awake waiting allowed now (a token bucket)
        self._budget_at = time.monotonic()
        self._fd: int | None = None
        self._libc = _libc() if precise else None
        if self._libc is not None:
            fd = self._libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
            if fd >= 0:
                self._fd = fd
                loop.add_reader(fd, self._expired)

    @property
    def precise(self) -> bool:
        """True when a timerfd backs the deadlines."""
        return self._fd is not None

    def at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        """Call `callback` on the loop at `deadline` (time.monotonic() seconds)."""
        timer = Timer(deadline, callback, self if self._fd is not None else None)
        if self._fd is None:
            timer.handle = self._loop.call_later(max(0.0, deadline - time.monotonic()), timer.fire)
            return timer
        heapq.heappush(self._heap, timer)
        if self._heap[0] is timer:
            self._plan()
        return timer

    def cancelled(self) -> None:
        """A timer was cancelled: drop dead entries once they are most of the heap.

        A stage re-arms the same far deadline on every wake-up (a one-hour timeout toxic under
        traffic); without this the heap would grow by one entry per chunk.
        """
        self._dead += 1
        if self._dead > 64 and self._dead * 2 > len(self._heap):
            self._heap[:] = [t for t in self._heap if t.callback is not None]
            heapq.heapify(self._heap)
            self._dead = 0

    @property
    def lead(self) -> float:
        """How long before a deadline the timerfd fires now (seconds)."""
        return self._lead

    def _arm(self, deadline: float, lead: float = 0.0) -> None:
        assert self._fd is not None and self._libc is not None
        fire = max(deadline - lead, 1e-6)  # an all-zero value would disarm
        seconds = int(fire)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(seconds, int((fire - seconds) * 1e9)))
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) == 0:
            self._armed, self._fire_at = deadline, fire
        else:  # should not happen; never lose a deadline
            self._loop.call_later(max(0.0, deadline - time.monotonic()), self._expired)

    def _plan(self) -> None:
        """Arm the timerfd for the earliest deadline, or spin if it is due within the lead."""
        heap = self._heap
        if not heap:
            return
        top = heap[0].deadline
        now = time.monotonic()
        self._budget = min(SPIN_BURST, self._budget + (now - self._budget_at) * SPIN_SHARE)
        self._budget_at = now
        if top - now <= self._lead and self._budget > 0:
            if not self._spinning:  # keep the loop awake until then; others are served
                self._spinning = True
                self._spin_last = now
                self._loop.call_soon(self._spin)
        elif self._armed is None or self._armed <= now or top < self._armed:
            # Out of budget (deadlines back to back under heavy traffic): sleep until the
            # deadline itself; a busy loop wakes promptly anyway.
            self._arm(top, lead=self._lead if self._budget > 0 else 0.0)

    def _expired(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                os.read(self._fd, 8)
        if self._fire_at is not None:
            late = time.monotonic() - self._fire_at
            if late >= 0:  # (a re-armed timerfd may report an expiry of the old setting)
                rate = _LEAD_UP if late > self._lead else _LEAD_DOWN
                self._lead = min(LEAD_MAX, self._lead + rate * (late - self._lead))
        self._armed = self._fire_at = None
        self._run_due()

    def _spin(self) -> None:
        now = time.monotonic()
        self._budget -= now - self._spin_last
        self._spin_last = now
        self._spinning = False
        self._run_due()

    def _run_due(self) -> None:
        heap = self._heap
        now = time.monotonic()
        while heap and (heap[0].callback is None or heap[0].deadline <= now):
            timer = heapq.heappop(heap)
            if timer.callback is None:
                self._dead = max(0, self._dead - 1)
            timer.fire()
        self._plan()

    @property
    def pending(self) -> int:
        """Entries in the heap (live and cancelled), for tests."""
        return len(self._heap)

    def close(self) -> None:
        """Stop watching and close the timerfd; pending callbacks are dropped."""
        self._heap.clear()
        self._dead = 0
        if self._fd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
