"""Background loops that run in an app's lifespan: started once, never crash, stop cleanly.

    relay = Periodic("outbox-relay", publish_pending, interval=0.5)
    await relay.start()      # in the lifespan, before `yield`
    relay.wake()             # run again now instead of at the next interval
    await relay.stop()       # after `yield`: cancels and waits

An exception in one round is logged (once per kind, to keep an outage from flooding the log)
and the loop goes on: a dependency being down is the normal case for these loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Runs `work()` every `interval` seconds, or sooner when woken."""

    def __init__(
        self, name: str, work: Callable[[], Awaitable[object]], *, interval: float
    ) -> None:
        self.name = name
        self.interval = interval
        self.rounds = 0
        self._work = work
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_error: str | None = None

    def __repr__(self) -> str:
        return f"Periodic({self.name!r}, interval={self.interval}, running={self.running})"

    @property
    def running(self) -> bool:
        """The loop is started and has not stopped."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the loop (its first round runs at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Run the next round now."""
        self._wake.set()

    async def stop(self) -> None:
        """Cancel the loop and wait until it has stopped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._work()
                if self._last_error is not None:
                    logger.info("%s recovered after: %s", self.name, self._last_error)
                    self._last_error = None
            except Exception as exc:
                described = f"{type(exc).__name__}: {exc}"
                if self._last_error is None or not described.startswith(type(exc).__name__):
                    logger.warning("%s round failed, will retry: %s", self.name, described)
                self._last_error = described
            self.rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
