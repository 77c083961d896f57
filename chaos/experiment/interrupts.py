"""Signals during a run: SIGINT and SIGTERM become `Interrupted`, except during cleanup.

    with Signals() as signals:          # in the main thread
        try:
            ...                         # Interrupted is raised here on SIGINT / SIGTERM
        finally:
            signals.cleaning = True     # a second Ctrl-C no longer stops the removal of faults
            remove_faults()

Shared by experiments and the matrix; the exit codes are the shell's (130, 143).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from chaos.errors import GamedayError

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}


class Interrupted(GamedayError):
    """A signal asked the run to stop; faults are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class Signals:
    """While a run is on, SIGTERM and SIGINT raise Interrupted in the main thread, except
    during cleanup: a second Ctrl-C must not stop the removal of the faults."""

    def __init__(self) -> None:
        self.cleaning = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.cleaning:
            logger.warning("%s during cleanup: still removing faults", signal.Signals(signum).name)
            return
        raise Interrupted(signum)

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
