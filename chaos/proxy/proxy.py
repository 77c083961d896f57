"""A proxy: a listener, its toxics, and the connections it carries.

Toxiproxy semantics: after binding, `listen` is rewritten to the bound address (so `:0` gets a
port and re-enabling reuses it); a proxy created disabled keeps `listen` as sent; disabling
closes the listener and every live connection but keeps the toxics; changing `listen` or
`upstream` restarts the proxy, and a failed re-bind leaves it disabled.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import Final

from chaos.proxy.address import bind, bound_display, resolve_listen
from chaos.proxy.chains import ToxicChains
from chaos.proxy.config import ProxyInput
from chaos.proxy.connection import Connection
from chaos.proxy.link import Link, Shared
from chaos.proxy.metrics import ProxyMetrics
from chaos.proxy.toxics import Toxic

log = logging.getLogger("chaos.proxy")

ACCEPTS_PER_WAKEUP: Final = 64
ACCEPT_BACKOFF_S: Final = 0.1  # out of file descriptors: stop accepting for a moment


class Proxy:
    """One named proxy: `listen` → `upstream`, with its toxic chains."""

    def __init__(
        self,
        spec: ProxyInput,
        *,
        allow_remote: bool,
        shared: Shared,
        metrics: ProxyMetrics,
    ) -> None:
        self.name = spec.name
        self.listen = spec.listen
        self.upstream = spec.upstream
        self.enabled = False
        self.toxics = ToxicChains()
        self.connections: dict[Connection, tuple[str, str, str]] = {}
        self.shared = shared
        self._allow_remote = allow_remote
        self._metrics = metrics
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def to_json(self) -> dict[str, object]:
        """`{"name","listen","upstream","enabled","toxics":[...]}` in Toxiproxy's order."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.to_json() for toxic in self.toxics.all()],
        }

    def as_input(self) -> ProxyInput:
        """The current definition, as an update body is laid over it."""
        return ProxyInput(self.name, self.listen, self.upstream, self.enabled)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and accept; raises a 500 ApiError (Go's text) when the address is unusable."""
        if self.enabled:
            return
        address = await resolve_listen(self.listen, allow_remote=self._allow_remote)
        sock = bind(address)
        self._sock = sock
        self.listen = bound_display(sock)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._accept)
        self.enabled = True
        log.info("proxy %s listening on %s, upstream %s", self.name, self.listen, self.upstream)

    def stop(self) -> None:
        """Close the listener and every live connection; toxics stay."""
        if not self.enabled:
            return
        self.enabled = False
        sock, self._sock = self._sock, None
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for conn in list(self.connections):
            conn.close_now()
        log.info("proxy %s stopped", self.name)

    async def update(self, wanted: ProxyInput) -> None:
        """Apply a new listen/upstream/enabled the way Toxiproxy's Proxy.Update does."""
        if wanted.listen != self.listen or wanted.upstream != self.upstream:
            self.stop()
            self.listen = wanted.listen
            self.upstream = wanted.upstream
        if wanted.enabled != self.enabled:
            if wanted.enabled:
                await self.start()
            else:
                self.stop()

    def _accept(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                client, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("proxy %s: cannot accept (%s); pausing accepts", self.name, exc)
                    self._pause_accepting()
                return
            try:
                conn = Connection(self, client)
            except OSError as exc:
                client.close()
                log.warning("proxy %s: dropped a client: %s", self.name, exc)
                continue
            self.connections[conn] = (self.name, self.listen, self.upstream)

    def _pause_accepting(self) -> None:
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        loop.remove_reader(sock.fileno())

        def resume() -> None:
            if self._sock is sock and self.enabled:
                loop.add_reader(sock.fileno(), self._accept)

        loop.call_later(ACCEPT_BACKOFF_S, resume)

    # -- what connections need (connection.Owner) -------------------------------------------

    def current_toxics(self) -> Sequence[Sequence[Toxic]]:
        """The chains a new connection starts with."""
        return self.toxics.chains

    def attach(self, links: Sequence[Link]) -> None:
        """A connection's links are live: toxic changes apply to them."""
        self.toxics.attach(links)

    def detach(self, conn: Connection) -> None:
        """A connection is over: forget it and keep its byte counts."""
        labels = self.connections.pop(conn, None)
        if conn.links is None:
            return
        self.toxics.detach(conn.links)
        if labels is not None:
            for link in conn.links:
                self._metrics.add((link.direction.label, *labels), link.received, link.sent)

    def live_counts(self) -> Iterator[tuple[tuple[str, str, str, str], int, int]]:
        """Byte counts of connections still open, for /metrics."""
        for conn, labels in self.connections.items():
            for link in conn.links or ():
                yield (link.direction.label, *labels), link.received, link.sent
