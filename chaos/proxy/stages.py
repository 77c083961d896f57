"""Toxics at work on one link: each toxic is a task between two channels of chunks.

    source ─► head ─► [stage: latency] ─► ch ─► [stage: slicer] ─► ch ─► [deliver] ─► dest

A stage owns what it has taken from its input and not yet passed on (`held`). Every wait is a
point where the stage may be *poked* (its toxic changed, a channel was swapped) or cancelled
(its toxic was removed): the behaviour then returns with `held` intact and is started again,
so no byte is lost whatever the API does to a live connection.

Deliberate difference from Toxiproxy v2.12.0: a toxic update or a neighbour's change does not
let the chunk in flight skip the toxic (upstream forwards it untouched); the chunk is re-timed
with the new values instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from chaos.proxy.timers import Timer, Timers
from chaos.proxy.toxics import Toxic, is_toxic, latency_delay, ms, slice_sizes

log = logging.getLogger("chaos.proxy")

BANDWIDTH_SLICE_S: Final = 0.1  # large chunks leave a bandwidth toxic in 100 ms slices
BANDWIDTH_BURST_S: Final = 0.02  # lateness forgiven before an idle link starts a new schedule

now = time.monotonic


class Chunk:
    """Bytes read from a socket, stamped with the time they were read."""

    __slots__ = ("data", "stamp")

    def __init__(self, data: bytes | memoryview, stamp: float) -> None:
        self.data = data
        self.stamp = stamp


Item = Chunk | None  # None marks the end of the stream


class Waiter(Protocol):
    """Something a channel wakes when it gets an item or frees room."""

    def ready(self) -> None: ...


class Channel:
    """A FIFO of chunks between two stages, with one waiting reader and one waiting writer."""

    __slots__ = ("capacity", "items", "reader", "writer")

    def __init__(self, capacity: int) -> None:
        self.items: deque[Item] = deque()
        self.capacity = capacity
        self.reader: Waiter | None = None
        self.writer: Waiter | None = None

    def push(self, item: Item) -> None:
        """Append (ignoring capacity: producers check `full()` first) and wake the reader."""
        self.items.append(item)
        reader = self.reader
        if reader is not None:
            self.reader = None
            reader.ready()

    def pop(self) -> Item:
        """Take the oldest item and wake the writer when room appears."""
        item = self.items.popleft()
        writer = self.writer
        if writer is not None and len(self.items) < self.capacity:
            self.writer = None
            writer.ready()
        return item

    def extend(self, items: list[Item]) -> None:
        """Append several items at once (a removed stage's leftovers) and wake the reader."""
        self.items.extend(items)
        reader = self.reader
        if reader is not None and self.items:
            self.reader = None
            reader.ready()

    def full(self) -> bool:
        """True when a producer should wait."""
        return len(self.items) >= self.capacity

    def set_capacity(self, capacity: int) -> None:
        """Resize; a writer waiting for room is woken if there is some now."""
        self.capacity = capacity
        writer = self.writer
        if writer is not None and not self.full():
            self.writer = None
            writer.ready()


class Sink(Channel):
    """Where data goes after a toxic closed the link: accepted and dropped."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    def push(self, item: Item) -> None:
        """Drop the item."""

    def full(self) -> bool:
        """Never full."""
        return False


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


# ---------------------------------------------------------------------------------------------
# Behaviours: each returns when poked (restarted by Stage._run) or when the stream ended.


async def passthrough(st: Stage) -> None:
    """noop, and any toxic whose toxicity coin said no on this link."""
    while await st.need():
        if st.held[0] is None:
            st.finish()
            return
        if not await st.room():
            return
        st.emit_head()


async def latency(st: Stage) -> None:
    """Hold each chunk until its read time + latency ± jitter; stamps move on so toxics add up."""
    assert st.toxic is not None
    while (chunk := await st.next_chunk()) is not None:
        if st.due is None:
            st.due = chunk.stamp + latency_delay(
                st.toxic.attr("latency"), st.toxic.attr("jitter"), st.link.rng
            )
        if not await st.sleep_until(st.due) or not await st.room():
            return
        st.emit_head(stamp=st.due)
        st.due = None


async def bandwidth(st: Stage) -> None:
    """Pace bytes at `rate` KB/s (1 KB = 1000 B) in slices of at most 100 ms worth.

    rate 0 stalls the link until the toxic changes or goes (upstream behaviour, kept).
    """
    assert st.toxic is not None
    while (chunk := await st.next_chunk()) is not None:
        rate = st.toxic.attr("rate")
        if rate <= 0:
            await st.wait()  # only a change to the toxic wakes this
            return
        if st.due is None:
            start = now()
            if st.mark is not None:
                start = max(st.mark, start - BANDWIDTH_BURST_S)
            st.piece = min(len(chunk.data), rate * 100)
            st.due = start + st.piece / (rate * 1000.0)
        if not await st.sleep_until(st.due) or not await st.room():
            return
        st.emit_piece(st.piece)
        st.mark, st.due = st.due, None


async def slow_close(st: Stage) -> None:
    """Pass data; hold the end of the stream for `delay` ms."""
    assert st.toxic is not None
    while await st.need():
        if st.held[0] is not None:
            if not await st.room():
                return
            st.emit_head()
            continue
        if st.mark is None:
            st.mark = now()
        if not await st.sleep_until(st.mark + ms(st.toxic.attr("delay"))):
            return
        st.finish()
        return


async def timeout(st: Stage) -> None:
    """Drop every byte; after `timeout` ms (0 = never) close the connection."""
    assert st.toxic is not None and st.mark is not None
    while True:
        limit = st.toxic.attr("timeout")
        deadline = st.mark + ms(limit) if limit > 0 else None
        if deadline is not None and now() >= deadline:
            st.finish()
            return
        if st.held or st.inp.items:
            item = st.held.popleft() if st.held else st.inp.pop()
            if item is None:
                st.finish()
                return
            continue
        if not await st.wait(read=True, until=deadline):
            return


async def reset_peer(st: Stage) -> None:
    """On the first data (or end of stream) wait `timeout` ms, then close both sides with RST."""
    assert st.toxic is not None
    if st.mark is None:
        if not await st.need():
            return
        st.held.clear()  # the triggering chunk is dropped, as upstream
        st.mark = now()
    if not await st.sleep_until(st.mark + ms(st.toxic.attr("timeout"))):
        return
    st.link.mark_reset()
    st.finish()


async def slicer(st: Stage) -> None:
    """Cut chunks into pieces of about `average_size` ± `size_variation`, `delay` µs apart."""
    assert st.toxic is not None
    while (chunk := await st.next_chunk()) is not None:
        if st.plan is None:
            st.plan = deque(
                slice_sizes(
                    len(chunk.data),
                    st.toxic.attr("average_size"),
                    st.toxic.attr("size_variation"),
                    st.link.rng,
                )
            )
        if st.due is not None and not await st.sleep_until(st.due):
            return
        st.due = None
        if not await st.room():
            return
        st.emit_piece(st.plan.popleft())
        if not st.plan:
            st.plan = None
        delay = st.toxic.attr("delay")
        st.due = now() + delay / 1e6 if delay > 0 else None


async def limit_data(st: Stage) -> None:
    """Pass `bytes` bytes on this link, then close; the count survives updates."""
    assert st.toxic is not None
    while (chunk := await st.next_chunk()) is not None:
        limit = st.toxic.attr("bytes")
        allowed = max(0, limit - st.count)
        if allowed < len(chunk.data):
            chunk.data = chunk.data[:allowed]
        if chunk.data:
            if not await st.room():
                return
            st.count += len(chunk.data)
            st.emit_head()
        else:
            st.held.popleft()
        if limit - st.count <= 0:
            st.finish()
            return


async def deliver(st: Stage) -> None:
    """The last stage: write chunks to the socket, honouring its flow control."""
    link = st.link
    while True:
        if not st.held:
            if not st.inp.items:
                if link.try_fast():
                    st.finished = True
                    return
                if not await st.wait(read=True):
                    return
                continue
            st.held.append(st.inp.pop())
        item = st.held.popleft()
        if item is None:
            st.finished = True
            link.end_of_stream()
            return
        link.write(item.data)
        while link.dest_paused():
            if not await st.wait(drain=True):
                return


BEHAVIOURS: Final[dict[str, Callable[[Stage], Awaitable[None]]]] = {
    "latency": latency,
    "bandwidth": bandwidth,
    "slow_close": slow_close,
    "timeout": timeout,
    "reset_peer": reset_peer,
    "slicer": slicer,
    "limit_data": limit_data,
    "noop": passthrough,
}
