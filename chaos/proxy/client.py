"""A small typed client for the Toxiproxy API, built on toxiproxy-python.

The rest of gameday drives faults only through this module; it works against the embedded
server (`gameday proxy`) and the real Toxiproxy alike.

    client = ToxiproxyClient("http://127.0.0.1:8474")
    proxy = client.create_proxy("payments", "127.0.0.1:9001")     # listen defaults to :0
    client.add_toxic("payments", "latency", attributes={"latency": 200, "jitter": 20})
    client.update_toxic("payments", "latency_downstream", attributes={"latency": 500})
    client.remove_toxic("payments", "latency_downstream")
    client.disable("payments")                                      # "down": refuse connects
    client.enable("payments")
    client.reset()                                                  # enable all, drop toxics

API (all methods raise ToxiproxyError, a chaos.errors.ProxyError):
    version() -> str                    running() -> bool (never raises)
    proxies() -> dict[str, ProxyInfo]   get_proxy(name) -> ProxyInfo
    create_proxy(name, upstream, *, listen="127.0.0.1:0", enabled=True) -> ProxyInfo
    update_proxy(name, *, listen=None, upstream=None, enabled=None) -> ProxyInfo
    enable(name) / disable(name) -> ProxyInfo        delete_proxy(name) -> None
    populate([ProxySpec, ...]) -> list[ProxyInfo]    reset() -> None
    toxics(proxy) -> list[ToxicInfo]                 get_toxic(proxy, name) -> ToxicInfo
    add_toxic(proxy, toxic_type, *, name=None, stream="downstream", toxicity=1.0,
              attributes=None) -> ToxicInfo
    update_toxic(proxy, name, *, attributes=None, toxicity=None) -> ToxicInfo
    remove_toxic(proxy, name) -> None

`ToxiproxyError.status` is the HTTP status (404, 409, 400, 500) or None when the server could
not be reached, so callers can, say, treat a 404 on removal as already removed.

toxiproxy-python's rough edges, kept here and nowhere else:
- it holds the server address in class attributes (`APIConsumer.host/port`), so calls are
  serialised under a lock and the address is set for each one;
- its requests have no timeout: every call here passes one;
- it lets 5xx answers through (its `create` then dies on a KeyError): statuses are checked here;
- its `populate()` works client-side and ignores `enabled`: we POST /populate instead;
- it has no toxic update: we POST to the toxic (accepted by every 2.x server);
- it imports the `future` package without declaring it (pyproject lists `future`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaos.errors import ProxyError

_CLASS_STATE = threading.Lock()  # APIConsumer.host/port are process-wide


class ToxiproxyError(ProxyError):
    """A Toxiproxy request failed; `status` is the HTTP status, None if unreachable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ToxicInfo:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the server reports it (`listen` is the bound address once enabled)."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()

    @property
    def listen_host(self) -> str:
        """Host part of `listen` (brackets of IPv6 removed)."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        """Port part of `listen`."""
        return int(self.listen.rpartition(":")[2])


@dataclass(frozen=True)
class ProxySpec:
    """One proxy for `populate`."""

    name: str
    upstream: str
    listen: str = "127.0.0.1:0"
    enabled: bool = True


def _toxic(data: Any) -> ToxicInfo:
    return ToxicInfo(
        name=str(data["name"]),
        type=str(data["type"]),
        stream=str(data["stream"]),
        toxicity=float(data["toxicity"]),
        attributes={str(k): int(v) for k, v in dict(data.get("attributes") or {}).items()},
    )


def _proxy(data: Any) -> ProxyInfo:
    return ProxyInfo(
        name=str(data["name"]),
        listen=str(data["listen"]),
        upstream=str(data["upstream"]),
        enabled=bool(data["enabled"]),
        toxics=tuple(_toxic(t) for t in data.get("toxics") or ()),
    )


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        import json

        decoded = json.loads(text)
    except ValueError:
        return text or "(empty body)"
    if isinstance(decoded, dict) and "error" in decoded:
        return str(decoded["error"])
    return text


class ToxiproxyClient:
    """Typed access to one Toxiproxy (or `gameday proxy`) server."""

    def __init__(self, url: str = "http://127.0.0.1:8474", *, timeout: float = 10.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ToxiproxyError(
                f"Toxiproxy URL {url!r} is not usable: expected http://HOST:PORT "
                "(toxiproxy-python speaks plain HTTP only)"
            )
        self.url = f"http://{parts.netloc}"
        self.timeout = timeout
        host = parts.hostname
        self._host = f"[{host}]" if ":" in host else host  # APIConsumer pastes it into a URL
        self._port = parts.port or 8474

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.url!r})"

    # -- transport ----------------------------------------------------------------------------

    def _call(self, what: str, method: str, path: str, body: object = None) -> requests.Response:
        with _CLASS_STATE:
            APIConsumer.host, APIConsumer.port = self._host, self._port
            try:
                if method == "GET":
                    response = APIConsumer.get(path, timeout=self.timeout)
                elif method == "DELETE":
                    response = APIConsumer.delete(path, timeout=self.timeout)
                else:
                    response = APIConsumer.post(path, json=body, timeout=self.timeout)
            except (ProxyExists, NotFound, InvalidToxic) as exc:
                status = {ProxyExists: 409, NotFound: 404, InvalidToxic: 400}[type(exc)]
                content = exc.args[0] if exc.args and isinstance(exc.args[0], bytes) else b""
                raise ToxiproxyError(
                    f"{what} failed: HTTP {status} {_server_message(content)} ({self.url})", status
                ) from exc
            except requests.RequestException as exc:
                raise ToxiproxyError(
                    f"{what} failed: Toxiproxy at {self.url} is unreachable "
                    f"({exc.__class__.__name__}); "
                    "is `gameday proxy` (or the toxiproxy container) running?"
                ) from exc
        if not isinstance(response, requests.Response):
            raise ToxiproxyError(f"{what} failed: toxiproxy-python returned {response!r}")
        if response.status_code >= 300:
            raise ToxiproxyError(
                f"{what} failed: HTTP {response.status_code} {_server_message(response.content)} "
                f"({self.url})",
                response.status_code,
            )
        return response

    def _json(self, what: str, method: str, path: str, body: object = None) -> Any:
        response = self._call(what, method, path, body)
        try:
            return response.json()
        except ValueError as exc:
            raise ToxiproxyError(f"{what} failed: the server sent no JSON ({self.url})") from exc

    # -- server -------------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version, e.g. `2.12.0`."""
        data = self._json("reading the version", "GET", "/version")
        return str(data["version"]) if isinstance(data, dict) else str(data)

    def running(self) -> bool:
        """True when the server answers /version."""
        try:
            self.version()
        except ToxiproxyError:
            return False
        return True

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (nothing is deleted)."""
        self._call("reset", "POST", "/reset")

    # -- proxies ------------------------------------------------------------------------------

    def proxies(self) -> dict[str, ProxyInfo]:
        """Every proxy by name."""
        data = self._json("listing proxies", "GET", "/proxies")
        return {str(name): _proxy(value) for name, value in dict(data).items()}

    def get_proxy(self, name: str) -> ProxyInfo:
        """One proxy."""
        return _proxy(self._json(f"reading proxy {name!r}", "GET", f"/proxies/{name}"))

    def create_proxy(
        self, name: str, upstream: str, *, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> ProxyInfo:
        """Create a proxy; with the default listen the server picks a free loopback port."""
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return _proxy(self._json(f"creating proxy {name!r}", "POST", "/proxies", body))

    def update_proxy(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> ProxyInfo:
        """Change listen/upstream (restarts the proxy) and/or enabled."""
        body = {
            k: v
            for k, v in (("listen", listen), ("upstream", upstream), ("enabled", enabled))
            if v is not None
        }
        return _proxy(self._json(f"updating proxy {name!r}", "POST", f"/proxies/{name}", body))

    def enable(self, name: str) -> ProxyInfo:
        """Listen again (re-using the bound port)."""
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> ProxyInfo:
        """Close the listener and every live connection; toxics are kept."""
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        """Remove a proxy."""
        self._call(f"deleting proxy {name!r}", "DELETE", f"/proxies/{name}")

    def populate(self, proxies: Sequence[ProxySpec]) -> list[ProxyInfo]:
        """Create or replace these proxies in one request (unchanged ones keep their toxics)."""
        body = [
            {"name": p.name, "upstream": p.upstream, "listen": p.listen, "enabled": p.enabled}
            for p in proxies
        ]
        data = self._json("populating proxies", "POST", "/populate", body)
        return [_proxy(p) for p in (data.get("proxies") or [])]

    # -- toxics -------------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[ToxicInfo]:
        """The proxy's toxics: upstream chain, then downstream chain."""
        return [
            _toxic(t)
            for t in self._json(f"listing toxics of {proxy!r}", "GET", f"/proxies/{proxy}/toxics")
        ]

    def get_toxic(self, proxy: str, name: str) -> ToxicInfo:
        """One toxic."""
        return _toxic(
            self._json(
                f"reading toxic {name!r} of {proxy!r}", "GET", f"/proxies/{proxy}/toxics/{name}"
            )
        )

    def add_toxic(
        self,
        proxy: str,
        toxic_type: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: Mapping[str, int] | None = None,
    ) -> ToxicInfo:
        """Add a toxic (default name `<type>_<stream>`); live connections get it at once."""
        body = {
            "name": name or f"{toxic_type}_{stream}",
            "type": toxic_type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        return _toxic(
            self._json(
                f"adding {toxic_type} toxic to {proxy!r}", "POST", f"/proxies/{proxy}/toxics", body
            )
        )

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
    ) -> ToxicInfo:
        """Change some attributes and/or the toxicity; the rest is kept."""
        body: dict[str, object] = {"attributes": dict(attributes or {})}
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = f"/proxies/{proxy}/toxics/{name}"
        return _toxic(self._json(f"updating toxic {name!r} of {proxy!r}", "POST", path, body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic; what it held is delivered (a timeout toxic closes its connections)."""
        self._call(
            f"removing toxic {name!r} from {proxy!r}", "DELETE", f"/proxies/{proxy}/toxics/{name}"
        )
