"""Signals during a test session: a removal that Ctrl-C cannot cut short, SIGTERM as Ctrl-C.

    with deferred_signals():     # a fault's removal, the system's stop
        ...                      # SIGINT / SIGTERM are held here and delivered at the end
    with sigterm_raises(stop):   # the session: SIGTERM calls stop() in the main thread,
        ...                      # which raises, so every `finally` and teardown still runs

Only the main thread can set handlers; elsewhere both run the block unprotected.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

HELD = (signal.SIGINT, signal.SIGTERM)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM arriving inside the block are delivered (once each) when it ends."""
    if not _main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


@contextlib.contextmanager
def sigterm_raises(stop: Callable[[], None]) -> Iterator[None]:
    """Inside the block SIGTERM calls `stop` (which raises), unless a handler is set already."""
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
