"""When bytes reached a socket: the kernel's receive timestamp, on the monotonic clock.

A latency toxic delays data from the moment it reached the proxy. Stamping it when the proxy
gets to read it instead (as Toxiproxy does) adds the proxy's own wake-up latency to every
delay: after 50 ms of idling, a process on a busy 2-core box may take a few hundred µs, and
on p99 milliseconds, to be scheduled. Linux records when each packet arrived (SO_TIMESTAMPNS,
software receive timestamps, TCP included since 4.13), and `recvmsg` hands the time of the
last packet read back as ancillary data.

    enable(sock)                               # on sockets whose data is toxified
    data, stamp = receive(sock, 65536, earliest=t)   # stamp: monotonic seconds

The kernel's clock is CLOCK_REALTIME; it is mapped to the monotonic clock with both clocks
read at once, which is exact to a microsecond unless the wall clock jumps in between. A stamp
is never later than now nor earlier than `earliest` (when the proxy itself held the data back
by not reading: it could not have been read before then, and Toxiproxy counts from the read
in that case too). Where the kernel gives no stamp, it is now.

Linux turns receive stamping on for the whole stack behind a switch that the first socket
asking for stamps flips, and the last one giving them up flips back, both through deferred
work: until that work has run, packets arrive unstamped. Toggled per toxified connection,
the switch would go off in every quiet spell and the first packets after it come back would
be stamped when read, the very error this module exists to remove. So the first `enable`
also opens one datagram socket that asks for stamps and is kept for the life of the process:
the switch flips once and stays on. The proxy server calls `keep_stamping_on()` when it
starts, so even its first toxified connection finds the switch on.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import time
from typing import Final

# SO_TIMESTAMPNS (the "old" timespec form, SCM_TIMESTAMPNS has the same number) on Linux.
SO_TIMESTAMPNS: Final = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC: Final = struct.Struct("@ll")  # struct timespec {time_t tv_sec; long tv_nsec}
_ANCILLARY: Final = socket.CMSG_SPACE(_TIMESPEC.size)
SUPPORTED: Final = sys.platform.startswith("linux")

_keeper: socket.socket | None = None  # holds the kernel's stamping switch on, see above


def keep_stamping_on() -> bool:
    """Hold the kernel's stamping switch on for the life of the process; False where it cannot."""
    global _keeper
    if not SUPPORTED:
        return False
    if _keeper is None:
        keeper = None
        try:
            keeper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            keeper.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            if keeper is not None:
                keeper.close()
            return False
        _keeper = keeper
    return True


def enable(sock: socket.socket) -> bool:
    """Ask the kernel to stamp data arriving on `sock`; False where it cannot."""
    if not keep_stamping_on():
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def disable(sock: socket.socket) -> None:
    """Stop stamping (the fast path has no use for it)."""
    if SUPPORTED:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 0)


def receive(sock: socket.socket, size: int, *, earliest: float) -> tuple[bytes, float]:
    """Up to `size` bytes and when they arrived (monotonic), see the module docstring.

    Raises what `recv` raises (BlockingIOError when there is nothing to read).
    """
    data, ancillary, _flags, _address = sock.recvmsg(size, _ANCILLARY)
    mono, real = time.monotonic(), time.time()
    for level, kind, body in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(body) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(body)
            arrived = mono - (real - (seconds + nanoseconds * 1e-9))
            return data, min(mono, max(arrived, earliest))
    return data, mono
