"""One TCP socket of a proxied connection, driven by the event loop's reader/writer callbacks.

The proxy owns its sockets instead of using asyncio transports: it needs `splice(2)` for the
no-toxic fast path (bytes move socket → pipe → socket without entering Python), SO_LINGER 0 for
a real RST, and a close that does not wait for a peer that never reads.

An endpoint is read by one link and written by the other. Writes go out at once when the
kernel takes them; the rest waits in order (bytes and pipe segments alike) until writable.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Final

log = logging.getLogger("chaos.proxy")

HIGH_WATER: Final = 256 * 1024  # queued bytes above which the writer stops feeding us
CLOSE_GRACE_S: Final = 30.0  # a graceful close that cannot flush by then is aborted
PIPE_SIZE: Final = 256 * 1024
_F_SETPIPE_SZ: Final = 1031
_F_GETPIPE_SZ: Final = 1032
SPLICE_FLAGS: Final = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
SPLICE_AVAILABLE: Final = hasattr(os, "splice")


class Pipe:
    """A kernel pipe used as the splice buffer between two sockets."""

    __slots__ = ("r", "size", "used", "w")

    def __init__(self) -> None:
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.w, _F_SETPIPE_SZ, PIPE_SIZE)
        self.size: int = fcntl.fcntl(self.w, _F_GETPIPE_SZ)
        self.used = 0

    def close(self) -> None:
        """Release both ends."""
        for fd in (self.r, self.w):
            with contextlib.suppress(OSError):
                os.close(fd)


class PipePool:
    """Empty pipes shared by every link of a server: a link holds one only while bytes wait."""

    def __init__(self, keep: int = 32) -> None:
        self._idle: list[Pipe] = []
        self._keep = keep

    def get(self) -> Pipe | None:
        """An empty pipe, or None when pipes cannot be made (fd limit): callers fall back."""
        if self._idle:
            return self._idle.pop()
        try:
            return Pipe()
        except OSError as exc:
            log.warning("cannot create a splice pipe (%s); copying through user space", exc)
            return None

    def put(self, pipe: Pipe) -> None:
        """Return a pipe; one that still holds bytes (its reader vanished) is closed instead."""
        if pipe.used == 0 and len(self._idle) < self._keep:
            self._idle.append(pipe)
        else:
            pipe.close()

    @property
    def idle(self) -> int:
        """Pipes kept for reuse (two file descriptors each)."""
        return len(self._idle)

    def close(self) -> None:
        """Close every idle pipe."""
        while self._idle:
            self._idle.pop().close()


class _PipeSegment:
    __slots__ = ("left", "pipe")

    def __init__(self, pipe: Pipe, left: int) -> None:
        self.pipe = pipe
        self.left = left


def _ignore() -> None:
    return None


class Endpoint:
    """A connected non-blocking socket with an ordered output queue and graceful/abortive close."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.written = 0
        self.queued = 0
        self.closed = False
        self.closing = False
        self.on_drain: Callable[[], None] = _ignore  # set by the link writing here
        self.on_broken: Callable[[Endpoint, OSError], None] = lambda _ep, _exc: None
        self._queue: deque[bytes | memoryview | _PipeSegment] = deque()
        self._reader: Callable[[], None] | None = None
        self._writer_on = False
        self._pipe_waiting = False
        self._grace: asyncio.TimerHandle | None = None
        self._adopted: list[Pipe] = []

    # -- reading (the link that reads this socket registers its callback) --------------------

    def set_reader(self, callback: Callable[[], None] | None) -> None:
        """Read readiness goes to `callback`; None stops reading."""
        if self.closed or callback is self._reader:
            return
        if callback is None:
            self.loop.remove_reader(self.fd)
        else:
            self.loop.add_reader(self.fd, callback)
        self._reader = callback

    # -- writing ----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while the writer should hold back (too much queued, or a pipe still full)."""
        return self.queued >= HIGH_WATER or self._pipe_waiting

    def write(self, data: bytes | memoryview) -> None:
        """Send `data` after anything queued; it must not be mutated afterwards."""
        if self.closed or self.closing or not data:
            return
        if not self._queue:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._broken(exc)
                return
            self.written += sent
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        self._queue.append(data)
        self.queued += len(data)
        self._want_writable()

    def write_pipe(self, pipe: Pipe, nbytes: int) -> None:
        """Send `nbytes` that sit in `pipe`, after anything queued."""
        if self.closed or self.closing:
            return
        if not self._queue:
            try:
                while nbytes:
                    sent = os.splice(pipe.r, self.fd, nbytes, flags=SPLICE_FLAGS)
                    nbytes -= sent
                    pipe.used -= sent
                    self.written += sent
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                self._broken(exc)
                return
            if not nbytes:
                return
        self._queue.append(_PipeSegment(pipe, nbytes))
        self._pipe_waiting = True
        self._want_writable()

    def _want_writable(self) -> None:
        if not self._writer_on and not self.closed:
            self.loop.add_writer(self.fd, self._on_writable)
            self._writer_on = True

    def _on_writable(self) -> None:
        self._flush()

    def _flush(self) -> None:
        was_paused = self.paused
        queue = self._queue
        while queue:
            head = queue[0]
            try:
                if isinstance(head, _PipeSegment):
                    sent = os.splice(head.pipe.r, self.fd, head.left, flags=SPLICE_FLAGS)
                    head.left -= sent
                    head.pipe.used -= sent
                    self.written += sent
                    if head.left:
                        continue
                else:
                    sent = self.sock.send(head)
                    self.written += sent
                    self.queued -= sent
                    if sent < len(head):
                        queue[0] = memoryview(head)[sent:]
                        continue
            except (BlockingIOError, InterruptedError):
                self._want_writable()
                return
            except OSError as exc:
                self._broken(exc)
                return
            queue.popleft()
        self._pipe_waiting = False
        if self._writer_on:
            self.loop.remove_writer(self.fd)
            self._writer_on = False
        if self.closing:
            self._close_now()
        elif was_paused:
            self.on_drain()

    # -- closing ----------------------------------------------------------------------------

    def set_reset(self) -> None:
        """Make the next close send RST (SO_LINGER on, 0 s)."""
        if not self.closed:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def adopt(self, pipe: Pipe) -> None:
        """Take over a pipe whose bytes are still queued here; it is closed with the socket."""
        if self.closed:
            pipe.close()
        else:
            self._adopted.append(pipe)

    def close(self) -> None:
        """Stop reading, send what is queued, then close (FIN, or RST after set_reset)."""
        if self.closed or self.closing:
            return
        self.set_reader(None)
        if not self._queue:
            self._close_now()
            return
        self.closing = True
        self._grace = self.loop.call_later(CLOSE_GRACE_S, self.abort)

    def abort(self) -> None:
        """Close now, dropping whatever is still queued."""
        self._close_now()

    def _close_now(self) -> None:
        if self.closed:
            return
        self.set_reader(None)
        if self._writer_on:
            self.loop.remove_writer(self.fd)
            self._writer_on = False
        self.closed = True
        self.closing = False
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        # Pipe segments still queued keep their pipe's `used` above 0, so the pool closes
        # that pipe instead of reusing it with stale bytes inside.
        self._queue.clear()
        self.queued = 0
        self._pipe_waiting = False
        while self._adopted:
            self._adopted.pop().close()
        self.sock.close()

    def _broken(self, exc: OSError) -> None:
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ETIMEDOUT):
            log.debug("socket error on fd %d: %s", self.fd, exc)
        self._close_now()
        self.on_broken(self, exc)
