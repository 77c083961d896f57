"""The embedded Toxiproxy-compatible server: the HTTP API and every proxy, on one event loop.

    server = ProxyServer(port=0)
    await server.start()          # binds 127.0.0.1:<free port>, applies `proxies`
    print(server.url)             # http://127.0.0.1:41234 — any Toxiproxy client works
    await server.stop()

Loopback only unless `allow_remote=True`: the API can open listeners and dial anywhere, so
it must not be reachable from other machines by accident.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from chaos.net import is_loopback
from chaos.proxy import arrival
from chaos.proxy.address import AddressError, bind, bound_display, resolve
from chaos.proxy.api import Api
from chaos.proxy.collection import ProxyCollection
from chaos.proxy.config import ProxyInput
from chaos.proxy.endpoint import SPLICE_AVAILABLE, PipePool
from chaos.proxy.errors import ApiError, ServerStartFailed
from chaos.proxy.http import HttpServer
from chaos.proxy.link import Shared

log = logging.getLogger("chaos.proxy")


class ServerOptions(TypedDict, total=False):
    """ProxyServer's keyword arguments, for helpers that pass them through."""

    host: str
    port: int
    allow_remote: bool
    proxy_metrics: bool
    runtime_metrics: bool
    seed: int | None
    proxies: Sequence[ProxyInput]
    splice: bool


@dataclass(frozen=True)
class ServerStats:
    """Live counts, for leak checks: proxied connections, live links, tasks, idle pipes."""

    proxies: int
    connections: int
    links: int
    tasks: int
    idle_pipes: int


class ProxyServer:
    """A Toxiproxy v2.12.0 drop-in: same API, same toxics, on `host:port`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8474,
        allow_remote: bool = False,
        proxy_metrics: bool = False,
        runtime_metrics: bool = False,
        seed: int | None = None,
        proxies: Sequence[ProxyInput] = (),
        splice: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.allow_remote = allow_remote
        self._initial = list(proxies)
        pipes = PipePool() if splice and SPLICE_AVAILABLE else None
        self._shared = Shared(random.Random(seed), pipes)
        self.proxies = ProxyCollection(allow_remote=allow_remote, shared=self._shared)
        self.api = Api(self.proxies, proxy_metrics=proxy_metrics, runtime_metrics=runtime_metrics)
        self._http = HttpServer(self.api.handle, self.api.decorate)
        self._stopped = asyncio.Event()
        self._started = False

    def __repr__(self) -> str:
        return f"ProxyServer(url={self.url!r}, proxies={len(self.proxies.proxies)})"

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. `http://127.0.0.1:8474`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind the API, then create the initial proxies (all checked before any is bound)."""
        if not self.allow_remote and not is_loopback(self.host):
            raise ServerStartFailed(
                f"refusing to serve the proxy API on non-loopback host {self.host!r}: anyone who "
                "can reach it can open listeners and dial out; pass --allow-remote to accept that"
            )
        try:
            address = (await resolve(self.host, self.port))[0]
            sock = bind(address)
        except (AddressError, ApiError) as exc:
            raise ServerStartFailed(
                f"cannot serve the proxy API on {self.host}:{self.port}: {exc}"
            ) from None
        host, _, port = bound_display(sock).rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        await self._http.start(sock)
        self._started = True
        arrival.keep_stamping_on()  # the kernel turns it on later: now, not at the first toxic
        if self._initial:
            try:
                async with self.proxies.lock:
                    await self.proxies.apply(self._initial)
            except ApiError as exc:
                await self.stop()
                raise ServerStartFailed(
                    f"cannot create the configured proxies: {exc.message}"
                ) from None
        log.info("gameday proxy API on %s", self.url)

    async def stop(self) -> None:
        """Close the API, every proxy and every connection."""
        await self._http.close()
        self.proxies.close_all()
        self._shared.close()
        self._stopped.set()

    async def serve_forever(self) -> None:
        """Return once `stop()` has run."""
        await self._stopped.wait()

    def stats(self) -> ServerStats:
        """Counts for leak checks; call on the server's loop."""
        proxies = list(self.proxies.proxies.values())
        return ServerStats(
            proxies=len(proxies),
            connections=sum(len(p.connections) for p in proxies),
            links=sum(len(p.toxics.links) for p in proxies),
            tasks=len(asyncio.all_tasks()),
            idle_pipes=self._shared.pipes.idle if self._shared.pipes is not None else 0,
        )
