"""Signals during a run: SIGINT and SIGTERM become `Interrupted`, until the run winds up.

    with Signals() as signals:          # in the main thread
        try:
            ...                         # Interrupted is raised here on SIGINT / SIGTERM
        finally:
            signals.hold("removing the faults")  # from here on a signal is logged, not raised:
            remove_faults()                      # nor does it stop the verdict and its report
        ...judge, write the journal, summary.md and junit.xml, still inside the block

Shared by experiments and the matrix; the exit codes are the shell's (130, 143).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Literal

from chaos.errors import GamedayError

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}


class Interrupted(GamedayError):
    """A signal asked the run to stop; faults are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class Signals:
    """While a run is on, SIGTERM and SIGINT raise Interrupted in the main thread, until it
    is held: a second Ctrl-C must not stop the removal of the faults, and one that comes while
    the verdict is written must not leave a run without its summary and JUnit."""

    def __init__(self) -> None:
        self.held_for: str | None = None  # what the run is finishing while signals are held
        self._previous: dict[int, Any] = {}

    def hold(self, doing: str) -> None:
        """From now on log SIGINT and SIGTERM instead of raising: the run is `doing` its end."""
        self.held_for = doing

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.held_for is not None:
            logger.warning(
                "%s while %s: finishing that first (SIGKILL stops at once; `gameday rollback` "
                "then undoes what is left)",
                signal.Signals(signum).name,
                self.held_for,
            )
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


ENDINGS = (Interrupted, KeyboardInterrupt, GamedayError, OSError)
"""What a run (an experiment, the matrix) ends early on; anything else is a bug of ours."""


def ending(exc: BaseException) -> tuple[Literal["interrupted", "failed"], str, int]:
    """(journal status, error, exit code) of a run that ended early on `exc` (one of ENDINGS).

    Interrupted: `interrupted`, 130 / 143 as the shell has them; GamedayError (a fault that
    could not be injected included) or OSError: `failed`, 2.
    """
    if isinstance(exc, Interrupted):
        return "interrupted", str(exc), EXIT_INTERRUPTED.get(exc.signum, 130)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted by SIGINT", 130
    return "failed", str(exc), 2
