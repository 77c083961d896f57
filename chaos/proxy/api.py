"""The Toxiproxy HTTP API: routes, handlers and the exact shape of every answer.

Routing follows gorilla/mux as Toxiproxy configures it: an unclean path (`//`, `/./`) is
redirected (301), an unknown path is `404 page not found`, a known path with another method is
an empty 405, and `{proxy}`/`{toxic}` match one path segment. Browsers (`User-Agent:
Mozilla/...`) get 403 on every route, which blocks cross-site requests to the admin API.
"""

from __future__ import annotations

import base64
import email.utils
import itertools
import os
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Final

from chaos.proxy import gojson
from chaos.proxy.collection import PopulateFailed, ProxyCollection
from chaos.proxy.errors import ApiError
from chaos.proxy.http import Request, Response, plain
from chaos.proxy.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from chaos.proxy.metrics import runtime_metrics

VERSION: Final = "2.12.0"
REQUEST_ID_HEADER: Final = "X-Toxiproxy-Request-Id"

Route = Callable[["Api", Request, list[str]], Awaitable[Response]]
_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def json_response(status: int, value: object) -> Response:
    """Compact JSON, `Content-Type: application/json`."""
    return Response(status, gojson.encode(value).encode(), [("Content-Type", "application/json")])


def error_response(error: ApiError) -> Response:
    """`{"error":..,"status":..}` + newline, sent through Go's http.Error (so text/plain)."""
    return plain(error.status, gojson.encode(error.to_json()))


class RequestIds:
    """xid-style ids (20 base32hex characters, time-ordered) like zerolog's hlog gives."""

    def __init__(self) -> None:
        self._machine = os.urandom(3)
        self._pid = (os.getpid() & 0xFFFF).to_bytes(2, "big")
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big"))

    def next(self) -> str:
        """A fresh id."""
        raw = (
            int(time.time()).to_bytes(4, "big")
            + self._machine
            + self._pid
            + (next(self._counter) & 0xFFFFFF).to_bytes(3, "big")
        )
        return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def clean_path(path: str) -> str:
    """gorilla/mux's cleanPath: Go's path.Clean, keeping a trailing slash."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class Api:
    """Answers API requests against a `ProxyCollection`."""

    def __init__(
        self,
        proxies: ProxyCollection,
        *,
        proxy_metrics: bool = False,
        runtime_metrics: bool = False,
    ) -> None:
        self.proxies = proxies
        self.proxy_metrics = proxy_metrics
        self.runtime_metrics = runtime_metrics
        self._ids = RequestIds()

    def decorate(self, response: Response) -> None:
        """Headers every answer carries: Date and X-Toxiproxy-Request-Id."""
        response.headers.append(("Date", email.utils.formatdate(usegmt=True)))
        response.headers.append((REQUEST_ID_HEADER, self._ids.next()))

    async def handle(self, request: Request) -> Response:
        """Route one request."""
        raw_path, _, query = request.target.partition(b"?")
        if raw_path.startswith((b"http://", b"https://")):
            raw_path = b"/" + raw_path.split(b"/", 3)[3] if raw_path.count(b"/") >= 3 else b"/"
        if not raw_path.startswith(b"/") or _ESCAPE.search(raw_path):
            return plain(400, "400 Bad Request")
        path = urllib.parse.unquote(
            raw_path.decode("latin-1"), encoding="utf-8", errors="surrogateescape"
        )
        cleaned = clean_path(path)
        if cleaned != path:
            location = urllib.parse.quote(cleaned, errors="surrogateescape")
            if query:
                location += "?" + query.decode("latin-1")
            return Response(301, b"", [("Location", location)])
        matched_path = False
        segments = path.split("/")[1:]
        for pattern, methods in self._routes():
            params = _match(pattern, segments)
            if params is None:
                continue
            matched_path = True
            handler = methods.get(request.method) or methods.get("*")
            if handler is None:
                continue
            if (request.header("user-agent") or "").startswith("Mozilla/"):
                return plain(403, "User agent not allowed")
            try:
                return await handler(self, request, params)
            except ApiError as error:
                return error_response(error)
        if matched_path:
            return Response(405)
        return plain(404, "404 page not found")

    def _routes(self) -> list[tuple[tuple[str | None, ...], dict[str, Route]]]:
        routes: list[tuple[tuple[str | None, ...], dict[str, Route]]] = [
            (("reset",), {"POST": Api.reset}),
            (("proxies",), {"GET": Api.proxy_index, "POST": Api.proxy_create}),
            (("populate",), {"POST": Api.populate}),
            (
                ("proxies", None),
                {
                    "GET": Api.proxy_show,
                    "POST": Api.proxy_update,
                    "PATCH": Api.proxy_update,
                    "DELETE": Api.proxy_delete,
                },
            ),
            (("proxies", None, "toxics"), {"GET": Api.toxic_index, "POST": Api.toxic_create}),
            (
                ("proxies", None, "toxics", None),
                {
                    "GET": Api.toxic_show,
                    "POST": Api.toxic_update,
                    "PATCH": Api.toxic_update,
                    "DELETE": Api.toxic_delete,
                },
            ),
            (("version",), {"GET": Api.version}),
        ]
        if self.proxy_metrics or self.runtime_metrics:
            routes.append((("metrics",), {"*": Api.metrics}))
        return routes

    # -- handlers ----------------------------------------------------------------------------

    async def reset(self, request: Request, params: list[str]) -> Response:
        """POST /reset → 204."""
        await self.proxies.reset()
        return Response(204)

    async def proxy_index(self, request: Request, params: list[str]) -> Response:
        """GET /proxies → 200 {name: proxy}."""
        return json_response(200, self.proxies.index())

    async def proxy_create(self, request: Request, params: list[str]) -> Response:
        """POST /proxies → 201 proxy."""
        return json_response(201, (await self.proxies.create(request.body)).to_json())

    async def populate(self, request: Request, params: list[str]) -> Response:
        """POST /populate → 201 {"proxies": [...]}; errors also carry `proxies` (as upstream)."""
        try:
            applied = await self.proxies.populate(request.body)
        except PopulateFailed as failed:
            listed = [p.to_json() for p in failed.applied] or None
            return json_response(failed.status, {**failed.to_json(), "proxies": listed})
        except ApiError as error:
            return json_response(error.status, {**error.to_json(), "proxies": None})
        return json_response(201, {"proxies": [p.to_json() for p in applied] or None})

    async def proxy_show(self, request: Request, params: list[str]) -> Response:
        """GET /proxies/{p} → 200 proxy."""
        return json_response(200, self.proxies.get(params[0]).to_json())

    async def proxy_update(self, request: Request, params: list[str]) -> Response:
        """POST|PATCH /proxies/{p} → 200 proxy."""
        return json_response(200, (await self.proxies.update(params[0], request.body)).to_json())

    async def proxy_delete(self, request: Request, params: list[str]) -> Response:
        """DELETE /proxies/{p} → 204."""
        await self.proxies.delete(params[0])
        return Response(204)

    async def toxic_index(self, request: Request, params: list[str]) -> Response:
        """GET /proxies/{p}/toxics → 200 [toxic]."""
        return json_response(200, [t.to_json() for t in self.proxies.toxics(params[0])])

    async def toxic_create(self, request: Request, params: list[str]) -> Response:
        """POST /proxies/{p}/toxics → 200 toxic (200, not 201, as upstream)."""
        return json_response(200, (await self.proxies.add_toxic(params[0], request.body)).to_json())

    async def toxic_show(self, request: Request, params: list[str]) -> Response:
        """GET /proxies/{p}/toxics/{t} → 200 toxic."""
        return json_response(200, self.proxies.toxic(params[0], params[1]).to_json())

    async def toxic_update(self, request: Request, params: list[str]) -> Response:
        """POST|PATCH /proxies/{p}/toxics/{t} → 200 toxic."""
        return json_response(
            200, (await self.proxies.update_toxic(params[0], params[1], request.body)).to_json()
        )

    async def toxic_delete(self, request: Request, params: list[str]) -> Response:
        """DELETE /proxies/{p}/toxics/{t} → 204."""
        await self.proxies.remove_toxic(params[0], params[1])
        return Response(204)

    async def version(self, request: Request, params: list[str]) -> Response:
        """GET /version → `{"version": "2.12.0"}` + newline."""
        body = f'{{"version": "{VERSION}"}}\n'.encode()
        return Response(200, body, [("Content-Type", "application/json;charset=utf-8")])

    async def metrics(self, request: Request, params: list[str]) -> Response:
        """GET /metrics → Prometheus text."""
        text = self.proxies.metrics.render(self.proxies.live_counts()) if self.proxy_metrics else ""
        if self.runtime_metrics:
            text += runtime_metrics()
        return Response(200, text.encode(), [("Content-Type", METRICS_CONTENT_TYPE)])


def _match(pattern: tuple[str | None, ...], segments: list[str]) -> list[str] | None:
    if len(pattern) != len(segments):
        return None
    params: list[str] = []
    for expected, actual in zip(pattern, segments, strict=True):
        if expected is None:
            if not actual:
                return None
            params.append(actual)
        elif expected != actual:
            return None
    return params
