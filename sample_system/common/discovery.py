"""Following the runtime's registry of live replicas, so callers see replicas come and go.

    membership = Membership("payments", balancer, registry_url, caller="orders",
                            instance="orders-0")
    membership.start()      # a task: long-polls the registry, updates the balancer
    await membership.aclose()

`GAMEDAY_REGISTRY_URL` (set by the gameday runtime, docs/runtime.md) is the registry's base
URL; `GET <url>/v1/endpoints/<service>?caller=<me>&instance=<me-0>&version=<v>&wait=<s>`
answers at once when the membership is newer than `v`, else after up to `s` seconds:

    {"service": "payments", "caller": "orders", "version": 7,
     "endpoints": [{"replica": 0, "url": "http://127.0.0.1:41001"}, ...]}

Each answer also tells the registry that this instance now uses that version, which is how
the runtime knows that no caller will send new requests to a replica it is draining. When
the registry cannot be reached the last membership stays (with ejection of dead endpoints,
as before) and the poll is retried every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import httpx

from sample_system.common.balancer import Balancer

logger = logging.getLogger(__name__)

REGISTRY_ENV = "GAMEDAY_REGISTRY_URL"
WAIT_SECONDS = 10.0
RETRY_SECONDS = 1.0


class Membership:
    """Keeps one balancer's endpoints equal to the registry's membership of one service."""

    def __init__(
        self,
        service: str,
        balancer: Balancer,
        registry_url: str,
        *,
        caller: str,
        instance: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.service = service
        self.balancer = balancer
        self.url = f"{registry_url.rstrip('/')}/v1/endpoints/{service}"
        self.caller = caller
        self.instance = instance
        self.version = 0
        # A plain client: registry polls are not calls to a dependency (no metrics, no spans).
        self._client = httpx.AsyncClient(transport=transport, timeout=WAIT_SECONDS + 5)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following (needs a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name=f"membership-{self.service}"
            )

    async def poll(self, wait: float = WAIT_SECONDS) -> bool:
        """One long poll; True when the membership changed."""
        params = {
            "caller": self.caller,
            "instance": self.instance,
            "version": str(self.version),
            "wait": str(wait),
        }
        response = await self._client.get(self.url, params=params)
        response.raise_for_status()
        body = response.json()
        version = int(body["version"])
        urls = [str(e["url"]) for e in body["endpoints"]]
        if version == self.version or not urls:
            return False
        changed = urls != self.balancer.endpoints
        self.balancer.set_endpoints(urls)
        self.version = version
        if changed:
            logger.info("%s: %d replicas (registry version %d)", self.service, len(urls), version)
        return changed

    async def _follow(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the registry is gone or restarting: keep what we have
                logger.debug("registry poll for %s failed: %r", self.service, exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def aclose(self) -> None:
        """Stop following and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()


def membership_from_env(
    environ: Mapping[str, str], service: str, balancer: Balancer
) -> Membership | None:
    """A Membership when `GAMEDAY_REGISTRY_URL` is set, else None (fixed `<DEP>_URLS`)."""
    url = environ.get(REGISTRY_ENV, "").strip()
    if not url:
        return None
    caller = environ.get("GAMEDAY_SERVICE", "unknown")
    instance = f"{caller}-{environ.get('GAMEDAY_REPLICA', '0')}"
    return Membership(service, balancer, url, caller=caller, instance=instance)
