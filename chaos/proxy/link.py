"""One direction of one proxied connection: read the source, run the toxics, write the dest.

A link with no toxic runs the fast path: bytes go straight from socket to socket (through a
kernel pipe with splice(2) where available). The first toxic switches it to a chain of stages
(`stages`); when the last toxic goes and everything in flight has been delivered it switches
back. Either way the order of bytes is kept, because everything written to the destination
goes through the same ordered endpoint queue.

End of stream on the source travels through the chain as an end mark; when it reaches the
end, the destination is closed and the other link learns its source is gone (no half-close,
as Toxiproxy).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from chaos.proxy import arrival
from chaos.proxy.channel import Channel, Chunk, Item, Sink, Waiter, now
from chaos.proxy.endpoint import SPLICE_FLAGS, Endpoint, Pipe, PipePool
from chaos.proxy.stages import Stage
from chaos.proxy.timers import Timers
from chaos.proxy.toxics import CHUNK_SIZE, Direction, Toxic

log = logging.getLogger("chaos.proxy")

READ_SIZE: Final = 256 * 1024
HEAD_CAPACITY: Final = 4
DELIVER_CAPACITY: Final = 4


@dataclass
class Shared:
    """What every link of one server shares: the random source, the pipe pool, the timers."""

    rng: random.Random
    pipes: PipePool | None
    _timers: Timers | None = field(default=None, repr=False)

    @property
    def timers(self) -> Timers:
        """The server loop's precise timers (made on first use, on the running loop)."""
        if self._timers is None:
            self._timers = Timers(asyncio.get_running_loop())
        return self._timers

    def close(self) -> None:
        """Release the timerfd and the idle pipes."""
        if self._timers is not None:
            self._timers.close()
            self._timers = None
        if self.pipes is not None:
            self.pipes.close()


class DeliveryChannel(Channel):
    """A channel that may feed the deliver stage: when delivery is idle, chunks skip the queue.

    Writing straight to the socket saves one task switch per chunk (~50 µs), which is most of
    what chain mode costs a small response. Order is safe: the queue is empty and delivery
    holds nothing, so nothing older is waiting.
    """

    __slots__ = ("link",)

    def __init__(self, capacity: int, link: Link) -> None:
        super().__init__(capacity)
        self.link = link

    def push(self, item: Item) -> None:
        """Write a chunk at once if this feeds an idle delivery, else queue it."""
        link = self.link
        deliver = link.deliver
        if (
            item is not None
            and not self.items
            and deliver is not None
            and deliver.inp is self
            and not deliver.held
            and not link.done
            and not link.dest.paused
        ):
            link.write(item.data)
            return
        super().push(item)


class ConnectionPort(Protocol):
    """What a link needs from its connection."""

    reset: bool

    def mark_reset(self) -> None: ...

    def close_now(self) -> None: ...

    def link_done(self, link: Link) -> None: ...

    def source_failed(self, link: Link, exc: OSError) -> None: ...


class Link:
    """Bytes from `source` to `dest` through the toxics of one direction."""

    def __init__(
        self,
        conn: ConnectionPort,
        direction: Direction,
        source: Endpoint,
        dest: Endpoint,
        shared: Shared,
    ) -> None:
        self.conn = conn
        self.direction = direction
        self.source = source
        self.dest = dest
        self.shared = shared
        self.rng = shared.rng
        self.timers = shared.timers
        self.other: Link | None = None
        self.stages: list[Stage] = []
        self.deliver: Stage | None = None
        self.head: Channel | None = None
        self.input_done = False
        self.done = False
        self.received = 0
        self.drain_waiter: Waiter | None = None
        self._pool = shared.pipes
        self._splice_on = shared.pipes is not None
        self._pipe: Pipe | None = None
        self._reader_cb = self._on_readable  # one bound method, so re-registering is a no-op
        self._reading = False
        self._reading_since = 0.0  # data cannot have been read before this (monotonic)
        self._stamped = False  # the kernel stamps arrivals on the source (chain mode)
        dest.on_drain = self._on_dest_drain

    @property
    def sent(self) -> int:
        """Bytes written to the destination socket so far."""
        return self.dest.written

    def start(self) -> None:
        """Begin reading the source."""
        self._update_reading()

    # -- reading -----------------------------------------------------------------------------

    def _update_reading(self) -> None:
        if self.input_done or self.done:
            want = False
        elif self.head is None:
            want = not self.dest.paused
        else:
            want = not self.head.full()
            if not want:
                self.head.writer = self
        if want and not self._reading:
            self._reading_since = now()
        self._reading = want
        self.source.set_reader(self._reader_cb if want else None)

    def ready(self) -> None:
        """The head channel has room again."""
        self._update_reading()

    def _on_readable(self) -> None:
        if self.head is None and self._splice_on:
            self._splice()
            return
        try:
            stamp: float | None = None
            if self._stamped:
                data, stamp = arrival.receive(
                    self.source.sock, READ_SIZE, earliest=self._reading_since
                )
            else:
                data = self.source.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.conn.source_failed(self, exc)
            return
        if not data:
            self.source_ended()
            return
        self.received += len(data)
        if self.head is None:
            self.dest.write(data)
            if self.dest.paused:
                self._update_reading()
            return
        if stamp is None:
            stamp = now()
        view = memoryview(data)
        for offset in range(0, len(data), CHUNK_SIZE):
            self.head.push(Chunk(view[offset : offset + CHUNK_SIZE], stamp))
        if self.head.full():
            self._update_reading()

    def _splice(self) -> None:
        assert self._pool is not None
        pipe = self._pipe or self._pool.get()
        if pipe is None:
            self._splice_on = False  # no pipes: copy through user space from now on
            return
        self._pipe = pipe
        try:
            moved = os.splice(self.source.fd, pipe.w, pipe.size - pipe.used, flags=SPLICE_FLAGS)
        except (BlockingIOError, InterruptedError):
            self._release_pipe()
            return
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                self._release_pipe()
                self._splice_on = False
                return
            self._release_pipe()
            self.conn.source_failed(self, exc)
            return
        if moved == 0:
            self._release_pipe()
            self.source_ended()
            return
        self.received += moved
        pipe.used += moved
        self.dest.write_pipe(pipe, moved)
        self._release_pipe()
        if self.dest.paused:
            self._update_reading()

    def _release_pipe(self) -> None:
        pipe = self._pipe
        if pipe is None or self._pool is None:
            return
        if pipe.used == 0:
            self._pipe = None
            self._pool.put(pipe)
        elif self.done:
            self._pipe = None
            self.dest.adopt(pipe)  # still flushing into a closing socket: it closes the pipe

    def source_ended(self) -> None:
        """EOF or error on the source, or the other link closed it: end the stream here."""
        if self.input_done:
            return
        self.input_done = True
        self.source.set_reader(None)
        if self.done:
            return
        if self.head is None:
            self.close_dest()
        else:
            self.head.push(None)

    # -- writing -----------------------------------------------------------------------------

    def write(self, data: bytes | memoryview) -> None:
        """Deliver bytes to the destination (used by the deliver stage)."""
        if not self.done:
            self.dest.write(data)

    def dest_paused(self) -> bool:
        """True while the destination has too much queued."""
        return self.dest.paused and not self.done

    def _on_dest_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            waiter.ready()
        self._release_pipe()
        if self.head is None:
            self._update_reading()

    def end_of_stream(self) -> None:
        """The end mark reached the deliver stage."""
        self.deliver = None
        self.close_dest()

    def close_dest(self) -> None:
        """Close the destination (RST if the connection was reset) and finish this link."""
        if self.done:
            return
        self.done = True
        self._stop_stages()
        if self.conn.reset:
            self.dest.set_reset()
            self.dest.abort()
        else:
            self.dest.close()
        self._release_pipe()
        if self.other is not None:
            self.other.source_ended()
        self.conn.link_done(self)

    def abort(self) -> None:
        """Stop at once: the destination is gone, or the proxy is stopping."""
        if self.done:
            return
        self.done = True
        self.input_done = True
        self._stop_stages()
        self.source.set_reader(None)
        self.dest.abort()
        self._release_pipe()

    def _stop_stages(self) -> None:
        for stage in self.stages:
            stage.detach()
        if self.deliver is not None:
            self.deliver.detach()

    def mark_reset(self) -> None:
        """A reset_peer toxic fired: both sockets will close with RST."""
        self.conn.mark_reset()

    def stage_failed(self, stage: Stage, exc: BaseException) -> None:
        """A behaviour raised (a bug): drop this connection, never the server."""
        self.conn.close_now()

    # -- the toxic chain ---------------------------------------------------------------------

    def _ensure_chain(self) -> Stage:
        if self.deliver is None:
            self.head = DeliveryChannel(HEAD_CAPACITY, self)
            self.deliver = Stage(self, None, self.head, Channel(0))
            self.deliver.start()
            # Toxics count from when data arrived, but never from before they existed.
            self._stamped = arrival.enable(self.source.sock)
            self._reading_since = now()
            self._update_reading()
        return self.deliver

    def try_fast(self) -> bool:
        """Called by an idle deliver stage: go back to the fast path if nothing is in flight."""
        deliver = self.deliver
        if (
            self.stages
            or deliver is None
            or self.head is not deliver.inp
            or self.head.items
            or deliver.held
        ):
            return False
        self.head = None
        self.deliver = None
        if self._stamped:
            arrival.disable(self.source.sock)
            self._stamped = False
        self._update_reading()
        return True

    def add_toxic(self, toxic: Toxic) -> None:
        """Append a toxic at the end of this link's chain, live."""
        if self.done:
            return
        deliver = self._ensure_chain()
        taken_over = deliver.inp  # the new stage reads what delivery was about to read
        taken_over.set_capacity(max(HEAD_CAPACITY, toxic.kind.buffer))
        out = DeliveryChannel(DELIVER_CAPACITY, self)
        stage = Stage(self, toxic, taken_over, out)
        deliver.set_input(out)
        self.stages.append(stage)
        stage.start()

    def update_toxic(self, toxic: Toxic) -> None:
        """New values for a toxic already on this link."""
        for stage in self.stages:
            if stage.name == toxic.name:
                stage.update(toxic)

    def remove_toxic(self, name: str) -> None:
        """Take a toxic out; what it held flows on (an active timeout closes the link)."""
        index = next((i for i, st in enumerate(self.stages) if st.name == name), None)
        if index is None or self.done:
            return
        stage = self.stages.pop(index)
        kill = stage.kills_on_removal()
        stage.detach()
        if kill:
            if stage.toxic is not None and stage.toxic.type == "reset_peer":
                self.conn.mark_reset()
            stage.out.push(None)
            self._connect_producer(index, Sink())
            return
        leftovers = [*stage.held, *stage.inp.items]
        stage.held.clear()
        stage.inp.items.clear()
        out = stage.out
        if leftovers:
            out.extend(leftovers)
        self._connect_producer(index, out)
        if not self.stages and self.deliver is not None:
            self.deliver.poke()  # it may go back to the fast path

    def _connect_producer(self, index: int, channel: Channel) -> None:
        if index > 0:
            self.stages[index - 1].set_output(channel)
            return
        old = self.head
        if old is not None and old.writer is self:
            old.writer = None
        self.head = channel
        self._update_reading()


def build_links(
    conn: ConnectionPort,
    client: Endpoint,
    server: Endpoint,
    toxics: Sequence[Sequence[Toxic]],
    shared: Shared,
) -> tuple[Link, Link]:
    """The upstream (client → server) and downstream links of a connection, toxics in place."""
    up = Link(conn, Direction.UPSTREAM, client, server, shared)
    down = Link(conn, Direction.DOWNSTREAM, server, client, shared)
    up.other, down.other = down, up
    for link in (up, down):
        for toxic in toxics[link.direction]:
            link.add_toxic(toxic)
    return up, down
