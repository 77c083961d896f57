"""One accepted client: dial the upstream, run the two links, tear everything down.

Toxiproxy semantics kept here: the upstream is dialled anew for every accepted client and a
failed dial closes the client (it sees the connect succeed, then EOF); EOF on one side closes
the other once the data in flight is through; a fired reset_peer makes both closes RSTs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from typing import Final, Protocol

from chaos.proxy.address import AddressError, resolve_upstream
from chaos.proxy.endpoint import Endpoint
from chaos.proxy.link import Link, Shared, build_links
from chaos.proxy.toxics import Toxic

log = logging.getLogger("chaos.proxy")

DIAL_TIMEOUT_S: Final = 30.0


class Owner(Protocol):
    """What a connection needs from its proxy."""

    name: str
    upstream: str
    shared: Shared

    def current_toxics(self) -> Sequence[Sequence[Toxic]]: ...

    def attach(self, links: Sequence[Link]) -> None: ...

    def detach(self, conn: Connection) -> None: ...


def _nodelay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def dial(upstream: str) -> socket.socket:
    """A connected non-blocking socket to `upstream` (`host:port`), trying each address."""
    loop = asyncio.get_running_loop()
    last: OSError = OSError(f"dial tcp {upstream}: no address")
    try:
        addresses = await resolve_upstream(upstream)
    except AddressError as exc:
        raise OSError(f"dial tcp {upstream}: {exc}") from None
    for address in addresses:
        sock = socket.socket(address.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(DIAL_TIMEOUT_S):
                await loop.sock_connect(sock, (address.host, address.port))
        except TimeoutError:
            sock.close()
            last = OSError(f"dial tcp {address.display}: i/o timeout")
            continue
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        _nodelay(sock)
        return sock
    raise last


class Connection:
    """A client socket, its upstream socket once dialled, and the two links between them."""

    def __init__(self, owner: Owner, client: socket.socket) -> None:
        self.owner = owner
        self.loop = asyncio.get_running_loop()
        client.setblocking(False)
        _nodelay(client)
        self.client = Endpoint(self.loop, client)
        self.server: Endpoint | None = None
        self.links: tuple[Link, Link] | None = None
        self.reset = False
        self.closed = False
        self._done: set[Link] = set()
        self._dial_task: asyncio.Task[None] | None = self.loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            sock = await dial(self.owner.upstream)
        except OSError as exc:
            log.warning(
                "proxy %s: cannot reach upstream %s: %s", self.owner.name, self.owner.upstream, exc
            )
            self._dial_task = None
            self.client.close()
            self._finish()
            return
        self._dial_task = None
        if self.closed:
            sock.close()
            return
        try:
            self.server = Endpoint(self.loop, sock)
            for endpoint in (self.client, self.server):
                endpoint.on_broken = self._broken
            self.links = build_links(
                self, self.client, self.server, self.owner.current_toxics(), self.owner.shared
            )
            self.owner.attach(self.links)
            for link in self.links:
                link.start()
        except Exception:  # a bug must cost one connection, never the server
            log.exception("proxy %s: could not set up a connection", self.owner.name)
            if self.server is None:
                sock.close()
            self.close_now()

    # -- called by links and endpoints ------------------------------------------------------

    def mark_reset(self) -> None:
        """reset_peer fired: every close from now on is an RST."""
        self.reset = True
        self.client.set_reset()
        if self.server is not None:
            self.server.set_reset()

    def link_done(self, link: Link) -> None:
        """A link delivered its end of stream (or was aborted)."""
        self._done.add(link)
        if self.links is not None and all(lk in self._done for lk in self.links):
            self._finish()

    def source_failed(self, link: Link, exc: OSError) -> None:
        """Reading the source failed (reset by peer): that socket is gone for both links."""
        link.source.abort()
        self._broken(link.source, exc)

    def _broken(self, endpoint: Endpoint, exc: OSError) -> None:
        if self.links is None:
            return
        for link in self.links:
            if link.dest is endpoint and not link.done:
                link.abort()
                self.link_done(link)
        for link in self.links:
            if link.source is endpoint:
                link.source_ended()

    # -- teardown ---------------------------------------------------------------------------

    def close_now(self) -> None:
        """Drop the connection at once (proxy disabled, deleted or server stopping)."""
        if self.closed:
            return
        if self._dial_task is not None:
            self._dial_task.cancel()
            self._dial_task = None
        if self.links is not None:
            for link in self.links:
                link.abort()
        self.client.abort()
        if self.server is not None:
            self.server.abort()
        self._finish()

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.owner.detach(self)
