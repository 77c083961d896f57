"""Toxics at work on one link: each toxic is a task between two channels of chunks.

    source ─► head ─► [stage: latency] ─► ch ─► [stage: slicer] ─► ch ─► [deliver] ─► dest

A stage owns what it has taken from its input and not yet passed on (`held`). Every wait is a
point where the stage may be *poked* (its toxic changed, a channel was swapped) or cancelled
(its toxic was removed): the behaviour then returns with `held` intact and is started again,
so no byte is lost whatever the API does to a live connection. What each toxic does is in
`behaviours`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from chaos.proxy.behaviours import BEHAVIOURS, deliver, passthrough
from chaos.proxy.channel import Channel, Chunk, Item, Waiter, now
from chaos.proxy.timers import Timer, Timers
from chaos.proxy.toxics import Toxic, is_toxic

log = logging.getLogger("chaos.proxy")


class LinkPort(Protocol):
    """What a stage needs from its link."""

    rng: random.Random
    timers: Timers
    drain_waiter: Waiter | None

    def write(self, data: bytes | memoryview) -> None: ...

    def dest_paused(self) -> bool: ...

    def end_of_stream(self) -> None: ...

    def try_fast(self) -> bool: ...

    def mark_reset(self) -> None: ...

    def stage_failed(self, stage: Stage, exc: BaseException) -> None: ...


class Stage:
    """One toxic, or the final delivery to the socket (`toxic` None), on one link."""

    def __init__(self, link: LinkPort, toxic: Toxic | None, inp: Channel, out: Channel) -> None:
        self.link = link
        self.toxic = toxic
        self.inp = inp
        self.out = out
        self.active = toxic is None or is_toxic(toxic.toxicity, link.rng)
        self.held: deque[Item] = deque()
        self.finished = False
        # Per-toxic state, kept across pokes: see each behaviour.
        self.mark: float | None = now() if toxic is not None and toxic.type == "timeout" else None
        self.due: float | None = None
        self.piece = 0
        self.count = 0
        self.plan: deque[int] | None = None
        self._fut: asyncio.Future[bool] | None = None
        self._poked = False
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The toxic's name ('' for delivery)."""
        return self.toxic.name if self.toxic is not None else ""

    def start(self) -> None:
        """Run the behaviour as a task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while not self.finished:
                await self.behaviour()(self)
                # A behaviour that returned at once must not starve the loop (the server).
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not take the server down: drop this connection
            log.exception("toxic %r failed on a connection", self.name)
            self.link.stage_failed(self, exc)

    def behaviour(self) -> Callable[[Stage], Awaitable[None]]:
        """The coroutine function for the current toxic and coin flip."""
        if self.toxic is None:
            return deliver
        return BEHAVIOURS[self.toxic.type] if self.active else passthrough

    # -- changes from the API (synchronous, between awaits) ---------------------------------

    def update(self, toxic: Toxic) -> None:
        """New attributes/toxicity: re-draw the coin, re-time what is in flight."""
        self.toxic = toxic
        self.active = is_toxic(toxic.toxicity, self.link.rng)
        self.due = None
        self.plan = None
        if toxic.type == "timeout":
            self.mark = now()  # upstream restarts the timer when the toxic changes
        self.poke()

    def set_input(self, channel: Channel) -> None:
        """Read from another channel from now on."""
        if self.inp.reader is self:
            self.inp.reader = None
        self.inp = channel
        self.poke()

    def set_output(self, channel: Channel) -> None:
        """Write to another channel from now on."""
        if self.out.writer is self:
            self.out.writer = None
        self.out = channel
        self.poke()

    def kills_on_removal(self) -> bool:
        """Removing this toxic closes the connection: an active timeout, a triggered reset."""
        if self.toxic is None or self.finished or not self.active:
            return False
        return self.toxic.type == "timeout" or (
            self.toxic.type == "reset_peer" and self.mark is not None
        )

    def detach(self) -> None:
        """Stop the task now; `held` and the channels keep every byte for whoever follows."""
        self._unhook(None)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    # -- waiting ----------------------------------------------------------------------------

    def ready(self) -> None:
        """A channel, the socket or a timer says the awaited condition may hold."""
        fut = self._fut
        if fut is not None and not fut.done():
            fut.set_result(True)

    def poke(self) -> None:
        """Make the current (or next) wait return False so the behaviour restarts."""
        fut = self._fut
        if fut is not None and not fut.done():
            fut.set_result(False)
        else:
            self._poked = True

    async def wait(
        self,
        *,
        read: bool = False,
        write: bool = False,
        drain: bool = False,
        until: float | None = None,
    ) -> bool:
        """Sleep until woken; False when poked (the caller returns and is restarted)."""
        if self._poked:
            self._poked = False
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._fut = fut
        if read:
            self.inp.reader = self
        if write:
            self.out.writer = self
        if drain:
            self.link.drain_waiter = self
        timer = self.link.timers.at(until, self.ready) if until is not None else None
        try:
            woke = await fut
        finally:
            self._unhook(timer)
        if not woke or self._poked:  # a change that landed after the wake-up counts too
            self._poked = False
            return False
        return True

    def _unhook(self, timer: Timer | None) -> None:
        if timer is not None:
            timer.cancel()
        if self.inp.reader is self:
            self.inp.reader = None
        if self.out.writer is self:
            self.out.writer = None
        if self.link.drain_waiter is self:
            self.link.drain_waiter = None
        self._fut = None

    async def need(self) -> bool:
        """Make sure `held` has an item (taking one from the input); False when poked."""
        while not self.held:
            if self.inp.items:
                self.held.append(self.inp.pop())
                return True
            if not await self.wait(read=True):
                return False
        return True

    async def next_chunk(self) -> Chunk | None:
        """The first held chunk; None when poked, or when the stream ended here (finished)."""
        if not await self.need():
            return None
        chunk = self.held[0]
        if chunk is None:
            self.finish()
        return chunk

    async def room(self) -> bool:
        """Wait until the output has room; False when poked."""
        while self.out.full():
            if not await self.wait(write=True):
                return False
        return True

    async def sleep_until(self, deadline: float) -> bool:
        """Wait for a monotonic deadline (timers may fire early: re-checked); False when poked."""
        while now() < deadline:
            if not await self.wait(until=deadline):
                return False
        return True

    def emit_head(self, stamp: float | None = None) -> None:
        """Pass the first held item on, optionally re-stamped."""
        item = self.held.popleft()
        if item is not None and stamp is not None:
            item.stamp = stamp
        self.out.push(item)

    def emit_piece(self, size: int) -> None:
        """Pass on the first `size` bytes of the first held chunk."""
        chunk = self.held[0]
        assert chunk is not None
        self.out.push(Chunk(chunk.data[:size], chunk.stamp))
        chunk.data = chunk.data[size:]
        if not chunk.data:
            self.held.popleft()

    def finish(self) -> None:
        """End the stream here: drop what is held and pass the end mark on."""
        self.held.clear()
        self.out.push(None)
        self.finished = True
