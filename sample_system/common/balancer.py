"""Client-side load balancing over a dependency's replicas: round robin with ejection.

Callers see one address per callee replica (`<DEP>_URLS`, docs/system-file.md); under the
gameday runtime the membership follows its registry (`set_endpoints`, from discovery.py).
An endpoint that fails `eject_after` times in a row (connection refused, reset, timed out)
is left out of the rotation for `eject_seconds`, then tried again. When every endpoint is
ejected the balancer does not give up: it returns the one whose ejection ends first (Envoy's
"panic mode"), because trying a maybe-dead replica beats failing for certain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass


@dataclass
class _Endpoint:
    url: str
    failures: int = 0
    ejected_until: float = 0.0


class Balancer:
    """Round robin over endpoints that are not ejected; pure apart from the injected clock."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        eject_after: int = 2,
        eject_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not endpoints:
            raise ValueError("a balancer needs at least one endpoint URL")
        if eject_after < 1 or eject_seconds < 0:
            raise ValueError(
                f"eject_after must be >= 1 and eject_seconds >= 0, "
                f"got {eject_after} and {eject_seconds}"
            )
        self._endpoints = [_Endpoint(url) for url in endpoints]
        self._by_url = {endpoint.url: endpoint for endpoint in self._endpoints}
        self._eject_after = eject_after
        self._eject_seconds = eject_seconds
        self._clock = clock
        self._next = 0

    def __repr__(self) -> str:
        return f"Balancer({[e.url for e in self._endpoints]!r}, ejected={self.ejected()!r})"

    @property
    def endpoints(self) -> list[str]:
        """Every endpoint, in rotation order."""
        return [endpoint.url for endpoint in self._endpoints]

    def ejected(self) -> list[str]:
        """The endpoints left out of the rotation right now."""
        now = self._clock()
        return [e.url for e in self._endpoints if e.ejected_until > now]

    def pick(self, avoid: Collection[str] = ()) -> str:
        """The next endpoint, preferring ones that are neither ejected nor in `avoid`.

        `avoid` holds the endpoints a call already tried, so a retry goes to another replica
        when there is one.
        """
        now = self._clock()
        count = len(self._endpoints)
        for skip_tried in (True, False):
            for offset in range(count):
                endpoint = self._endpoints[(self._next + offset) % count]
                if endpoint.ejected_until <= now and not (skip_tried and endpoint.url in avoid):
                    self._next = (self._next + offset + 1) % count
                    return endpoint.url
        # Panic mode: everything is ejected; try the one that comes back first.
        return min(self._endpoints, key=lambda e: (e.url in avoid, e.ejected_until)).url

    def set_endpoints(self, endpoints: Sequence[str]) -> None:
        """Follow a membership change: new endpoints join, missing ones leave the rotation.

        Endpoints that stay keep their failure and ejection state; a call in flight to one
        that left finishes normally (its outcome is then ignored).
        """
        if not endpoints:
            raise ValueError("a balancer needs at least one endpoint URL")
        current = self._endpoints[self._next % len(self._endpoints)].url
        self._endpoints = [self._by_url.get(url) or _Endpoint(url) for url in endpoints]
        self._by_url = {endpoint.url: endpoint for endpoint in self._endpoints}
        urls = [e.url for e in self._endpoints]
        self._next = urls.index(current) if current in urls else 0

    def succeeded(self, url: str) -> None:
        """A call to `url` got an answer: it is healthy again."""
        endpoint = self._by_url.get(url)
        if endpoint is None:  # it left the membership while the call was in flight
            return
        endpoint.failures = 0
        endpoint.ejected_until = 0.0

    def failed(self, url: str) -> None:
        """A call to `url` got no answer; eject it after `eject_after` failures in a row."""
        endpoint = self._by_url.get(url)
        if endpoint is None:
            return
        endpoint.failures += 1
        if endpoint.failures >= self._eject_after:
            endpoint.ejected_until = self._clock() + self._eject_seconds
            endpoint.failures = 0
