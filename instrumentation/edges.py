"""Every httpx client is an edge: `http_client_request_duration_seconds` for all of them.

`instrument()` wraps the two transports every httpx client sends through unless it is given
another one (`httpx.HTTPTransport.handle_request`, `httpx.AsyncHTTPTransport.
handle_async_request`, as opentelemetry-instrumentation-httpx does for its spans), so a plain
`httpx.AsyncClient()` in any module is measured like a `dependency_client()`. Its
`server_address` label is, in order:

1. nothing new for a `dependency_client()` request: its transport measured it already;
2. the logical name of the dependency whose base URL the request goes to, from the
   environment: every `<NAME>_URLS` variable (comma-separated base URLs, as the gameday
   runtime sets them) maps its URLs to `name` (the prefix, lower-cased);
3. otherwise `host:port`, for at most `GAMEDAY_CLIENT_ADDRESS_LIMIT` (default 50) distinct
   addresses per process; every further one is counted as `_OTHER`, so a process calling
   thousands of hosts keeps a bounded number of series.

The wrapping is process-wide and installed once; each `instrument()` call points it at its
registry (the last call wins). A failure inside the measurement is logged once and never
reaches the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from instrumentation.client import MEASURED, ClientRecorder

logger = logging.getLogger(__name__)

OTHER_ADDRESS = "_OTHER"
DEFAULT_ADDRESS_LIMIT = 50
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    scheme = scheme.lower()
    return scheme, host.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


@dataclass
class EdgeNames:
    """Turns a request's URL into its `server_address` label value (a pure, bounded map)."""

    by_origin: dict[tuple[str, str, int], list[tuple[str, str]]] = field(default_factory=dict)
    limit: int = DEFAULT_ADDRESS_LIMIT
    warnings: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> EdgeNames:
        """Names from every `<NAME>_URLS` variable; the limit from GAMEDAY_CLIENT_ADDRESS_LIMIT."""
        names = cls()
        raw_limit = env.get("GAMEDAY_CLIENT_ADDRESS_LIMIT", "").strip()
        if raw_limit:
            if raw_limit.isdigit():
                names.limit = int(raw_limit)
            else:
                names.warnings.append(
                    f"GAMEDAY_CLIENT_ADDRESS_LIMIT={raw_limit!r} is not a whole number; "
                    f"using {DEFAULT_ADDRESS_LIMIT}"
                )
        for variable in sorted(env):
            if variable.endswith("_URLS") and len(variable) > len("_URLS"):
                name = variable[: -len("_URLS")].lower()
                for url in filter(None, (u.strip() for u in env[variable].split(","))):
                    names.add(name, url, source=variable)
        return names

    def add(self, name: str, base_url: str, *, source: str = "code") -> None:
        """Requests under `base_url` (http or https) are calls to `name`."""
        try:
            parts = urlsplit(base_url)
            origin = _origin(parts.scheme, parts.hostname or "", parts.port)
        except ValueError:  # a port that is not a number
            origin = ("", "", 0)
        if not origin[0] or not origin[1]:
            self.warnings.append(
                f"{source}: {base_url!r} is not a base URL such as http://127.0.0.1:8000; "
                "calls to it are labelled host:port"
            )
            return
        if origin[0] not in _DEFAULT_PORTS:
            return  # nats://, redis://...: not called with httpx
        prefixes = self.by_origin.setdefault(origin, [])
        prefixes.append((parts.path.rstrip("/"), name))
        prefixes.sort(key=lambda item: -len(item[0]))  # the longest matching path wins

    def address(self, url: httpx.URL) -> str:
        """The label value for a request to `url`."""
        origin = _origin(url.scheme, url.host, url.port)
        for prefix, name in self.by_origin.get(origin, ()):
            path = url.path
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return name
        host = f"[{origin[1]}]" if ":" in origin[1] else origin[1]
        address = f"{host}:{origin[2]}"
        if address in self._seen:
            return address
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER_ADDRESS
            self._seen.add(address)
        return address


@dataclass
class _Target:
    names: EdgeNames
    recorder: ClientRecorder
    on_error: Callable[[str, BaseException], None]


_target: _Target | None = None
_install_lock = threading.Lock()
_installed = False


def _start(request: Any) -> tuple[_Target, str, float] | None:
    """What a measurement needs, or None when this request is not to be measured here."""
    target = _target
    if target is None or not isinstance(request, httpx.Request) or request.extensions.get(MEASURED):
        return None
    try:
        address = target.names.address(request.url)
    except Exception as exc:
        target.on_error("naming a client request", exc)
        return None
    request.extensions[MEASURED] = True
    return target, address, time.perf_counter()


def _finish(
    started: tuple[_Target, str, float], method: str, status: int | None, error: str
) -> None:
    target, address, start = started
    try:
        target.recorder.record(address, method, time.perf_counter() - start, status, error)
    except Exception as exc:  # metrics must never fail a request
        target.on_error("recording client request metrics", exc)


def _sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    request = args[0] if args else kwargs.get("request")
    started = _start(request)
    if started is None:
        return wrapped(*args, **kwargs)
    try:
        response = wrapped(*args, **kwargs)
    except Exception as exc:
        _finish(started, request.method, None, type(exc).__name__)
        raise
    _finish(started, request.method, response.status_code, "")
    return response


async def _async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    request = args[0] if args else kwargs.get("request")
    started = _start(request)
    if started is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await wrapped(*args, **kwargs)
    except Exception as exc:
        _finish(started, request.method, None, type(exc).__name__)
        raise
    _finish(started, request.method, response.status_code, "")
    return response


def measure_every_client(
    names: EdgeNames, recorder: ClientRecorder, on_error: Callable[[str, BaseException], None]
) -> None:
    """Measure every httpx client of this process into `recorder` (installed once)."""
    global _target, _installed
    _target = _Target(names, recorder, on_error)
    with _install_lock:
        if _installed:
            return
        from wrapt import wrap_function_wrapper

        wrap_function_wrapper(httpx.HTTPTransport, "handle_request", _sync_wrapper)
        wrap_function_wrapper(httpx.AsyncHTTPTransport, "handle_async_request", _async_wrapper)
        _installed = True
