"""Every proxy of a server and the operations the API performs on them.

Each operation checks in Toxiproxy's order and raises `ApiError` with its status and message.
Changes are serialised by one lock, since binding and resolving addresses await.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from chaos.proxy import errors
from chaos.proxy.address import resolve_listen
from chaos.proxy.config import ProxyInput, parse_create, parse_populate, parse_update
from chaos.proxy.errors import ApiError
from chaos.proxy.link import Shared
from chaos.proxy.metrics import Labels, ProxyMetrics
from chaos.proxy.proxy import Proxy
from chaos.proxy.toxics import Toxic, parse_new_toxic, parse_toxic_update


class PopulateFailed(ApiError):
    """/populate stopped part way (a bind failed): the proxies applied before it are listed."""

    def __init__(self, cause: ApiError, applied: list[Proxy]) -> None:
        super().__init__(cause.message, cause.status)
        self.applied = applied


class ProxyCollection:
    """The proxies of one server, by name."""

    def __init__(self, *, allow_remote: bool, shared: Shared) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.metrics = ProxyMetrics()
        self.allow_remote = allow_remote
        self.shared = shared
        self.lock = asyncio.Lock()

    def _new(self, spec: ProxyInput) -> Proxy:
        return Proxy(spec, allow_remote=self.allow_remote, shared=self.shared, metrics=self.metrics)

    def get(self, name: str) -> Proxy:
        """The proxy called `name`, or 404."""
        proxy = self.proxies.get(name)
        if proxy is None:
            raise errors.proxy_not_found()
        return proxy

    def index(self) -> dict[str, object]:
        """GET /proxies: every proxy by name (sorted, as Go's JSON encoder sorts map keys)."""
        return {name: self.proxies[name].to_json() for name in sorted(self.proxies)}

    async def create(self, body: bytes) -> Proxy:
        """POST /proxies: decode, required fields, name taken (409), then bind (500)."""
        spec = parse_create(body)
        async with self.lock:
            if spec.name in self.proxies:
                raise errors.proxy_exists()
            proxy = self._new(spec)
            if spec.enabled:
                await proxy.start()
            self.proxies[spec.name] = proxy
            return proxy

    async def update(self, name: str, body: bytes) -> Proxy:
        """POST|PATCH /proxies/{name}: the body is laid over listen/upstream/enabled."""
        async with self.lock:
            proxy = self.get(name)
            await proxy.update(parse_update(body, proxy.as_input()))
            return proxy

    async def delete(self, name: str) -> None:
        """DELETE /proxies/{name}: stop it and forget it."""
        async with self.lock:
            self.get(name).stop()
            del self.proxies[name]

    async def populate(self, body: bytes) -> list[Proxy]:
        """POST /populate (see `apply`)."""
        specs = parse_populate(body)
        async with self.lock:
            return await self.apply(specs)

    async def apply(self, specs: list[ProxyInput]) -> list[Proxy]:
        """Create or replace proxies; one with the same listen and upstream is left untouched.

        Proxies not named are never deleted. A bind failure stops the run and raises
        PopulateFailed listing the proxies applied before it (as Toxiproxy answers).
        """
        applied: list[Proxy] = []
        for spec in specs:
            existing = self.proxies.get(spec.name)
            if existing is not None and await self._same(existing, spec):
                applied.append(existing)
                continue
            if existing is not None:
                existing.stop()
            proxy = self._new(spec)
            if spec.enabled:
                try:
                    await proxy.start()
                except ApiError as exc:
                    raise PopulateFailed(exc, applied) from None
            self.proxies[spec.name] = proxy
            applied.append(proxy)
        return applied

    async def _same(self, existing: Proxy, spec: ProxyInput) -> bool:
        if existing.upstream != spec.upstream:
            return False
        if existing.listen == spec.listen:
            return True
        try:  # `localhost:7070` is the proxy already bound to `127.0.0.1:7070`
            address = await resolve_listen(spec.listen, allow_remote=True)
        except ApiError:
            return False
        return address.port != 0 and address.display == existing.listen

    async def reset(self) -> None:
        """POST /reset: enable every proxy and remove every toxic; nothing is deleted."""
        async with self.lock:
            for name in sorted(self.proxies):
                proxy = self.proxies[name]
                await proxy.start()
                proxy.toxics.reset()

    def toxics(self, proxy: str) -> list[Toxic]:
        """GET /proxies/{p}/toxics: upstream chain, then downstream chain."""
        return self.get(proxy).toxics.all()

    def toxic(self, proxy: str, name: str) -> Toxic:
        """GET /proxies/{p}/toxics/{t}."""
        toxic = self.get(proxy).toxics.find(name)
        if toxic is None:
            raise errors.toxic_not_found()
        return toxic

    async def add_toxic(self, proxy: str, body: bytes) -> Toxic:
        """POST /proxies/{p}/toxics: applied at once to live connections."""
        async with self.lock:
            chains = self.get(proxy).toxics
            toxic = parse_new_toxic(body, lambda name: chains.find(name) is not None)
            chains.add(toxic)
            return toxic

    async def update_toxic(self, proxy: str, name: str, body: bytes) -> Toxic:
        """POST|PATCH /proxies/{p}/toxics/{t}: attributes merged, toxicity kept if absent."""
        async with self.lock:
            current = self.toxic(proxy, name)
            toxic = parse_toxic_update(current, body)
            self.get(proxy).toxics.update(toxic)
            return toxic

    async def remove_toxic(self, proxy: str, name: str) -> None:
        """DELETE /proxies/{p}/toxics/{t}."""
        async with self.lock:
            if not self.get(proxy).toxics.remove(name):
                raise errors.toxic_not_found()

    def live_counts(self) -> Iterator[tuple[Labels, int, int]]:
        """Byte counts of every open connection, for /metrics."""
        for proxy in self.proxies.values():
            yield from proxy.live_counts()

    def close_all(self) -> None:
        """Stop every proxy (server shutdown)."""
        for proxy in self.proxies.values():
            proxy.stop()
