"""What each toxic does to the chunks of one link, as the behaviour of its stage.

Each behaviour is a coroutine over a `Stage`: it returns when poked (the stage starts it again
with the new toxic values) or when the end of the stream has passed. Toxiproxy v2.12.0
semantics, with the differences listed in docs/proxy.md: chunks in flight are re-timed rather
than released untoxified when a toxic changes, and latency stamps move on exactly so that
several latency toxics add up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from chaos.proxy.channel import now
from chaos.proxy.toxics import latency_delay, ms, slice_sizes

if TYPE_CHECKING:
    from chaos.proxy.stages import Stage

BANDWIDTH_SLICE_S: Final = 0.1  # large chunks leave a bandwidth toxic in 100 ms slices
BANDWIDTH_BURST_S: Final = 0.02  # lateness forgiven before an idle link starts a new schedule


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
            st.piece = min(len(chunk.data), int(rate * 1000 * BANDWIDTH_SLICE_S))
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
