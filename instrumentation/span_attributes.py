"""A server span's request and response attributes, as the ASGI instrumentation sets them.

`request_attributes` returns what `opentelemetry.instrumentation.asgi.collect_request_attributes`
returns in the stable HTTP conventions (`OTEL_SEMCONV_STABILITY_OPT_IN=http`, gameday's
default), including its quirks (`server.address` is `host:port` of the listening socket,
`url.query` the raw query). It does it in one pass: upstream builds the full URL (parsing and
unquoting the query for the legacy attributes it then drops), scans the headers once per header
it looks for, and upper-cases the method against a list read from the environment per call.
`response_status` is upstream's `set_status_code` for a server span. Both are checked against
upstream on generated requests (tests/instrumentation/test_span_attributes.py).
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.http import (
    OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS,
    detect_synthetic_user_agent,
    sanitize_method,
)
from starlette.types import Scope

_MAX_CACHED = 256  # distinct methods / user agents remembered; beyond, computed each time


def decode_header(value: bytes) -> str:
    """A header name or value as the instrumentor decodes it: UTF-8, else `unicode_escape`.

    Where both fail (`b"\\x80\\\\"`: not UTF-8, and a backslash at the end) the instrumentor
    raises, which fails the request; here the bytes are read as Latin-1 instead.
    """
    try:
        return value.decode("utf-8")
    except ValueError:
        try:
            return value.decode("unicode_escape")
        except ValueError:
            return value.decode("latin-1")


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (ValueError, TypeError):
        return None


class RequestAttributes:
    """Computes request attributes; remembers per-method and per-user-agent results."""

    def __init__(self) -> None:
        # Upstream reads this for every request; a running service does not change it.
        self._capture_all = bool(
            os.environ.get(OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS)
        )
        self._methods: dict[str, str] = {}
        self._agents: dict[str, str | None] = {}

    def method(self, raw: str) -> str:
        """`sanitize_method(raw)`: the upper-cased method, or `_OTHER` when not a known one."""
        found = self._methods.get(raw)
        if found is None:
            found = raw.upper() if self._capture_all else sanitize_method(raw)
            if len(self._methods) < _MAX_CACHED:
                self._methods[raw] = found
        return found

    def _synthetic(self, agent: str) -> str | None:
        if agent in self._agents:
            return self._agents[agent]
        found = detect_synthetic_user_agent(agent)
        if len(self._agents) < _MAX_CACHED:
            self._agents[agent] = found
        return found

    def __call__(self, scope: Scope) -> dict[str, Any]:
        """The attributes upstream collects for `scope` (an HTTP request)."""
        result: dict[str, Any] = {}
        scheme = scope.get("scheme")
        if scheme:
            result["url.scheme"] = scheme
        server = scope.get("server") or ["0.0.0.0", 80]
        port = server[1]
        host = server[0] + (":" + str(port) if str(port) != "80" else "")
        if host:
            result["server.address"] = host
        if port and (number := _as_int(port)) is not None:
            result["server.port"] = number
        flavor = scope.get("http_version")
        if flavor:
            result["network.protocol.version"] = flavor
        path = scope.get("path")
        if path:
            result["url.path"] = path
            query = scope.get("query_string")
            if query:
                # Upstream decodes strictly and fails the request on bad UTF-8; never here.
                result["url.query"] = (
                    query.decode("utf8", "replace") if isinstance(query, bytes) else query
                )
        raw_method = scope.get("method", "")
        if raw_method:
            original = raw_method.strip()
            normalized = self.method(raw_method).strip()
            if original != normalized and original:
                result["http.request.method_original"] = original
            if normalized:
                result["http.request.method"] = normalized
        for name, value in scope.get("headers") or ():
            # Only a 10-byte name can decode to "user-agent": the others are not decoded.
            if len(name) == 10 and decode_header(name).lower() == "user-agent":
                agent = decode_header(value)
                if agent:
                    result["user_agent.original"] = agent
                    synthetic = self._synthetic(agent)
                    if synthetic:
                        result["user_agent.synthetic.type"] = synthetic
                break
        client = scope.get("client")
        if client is not None:
            if client[0]:
                result["client.address"] = client[0]
            if client[1] and (number := _as_int(client[1])) is not None:
                result["client.port"] = number
        return result


def response_status(span: Span, status: int) -> None:
    """Set the response status on a server span as upstream's `set_status_code` does."""
    if not span.is_recording():
        return
    if type(status) is not int or status < 0:
        from opentelemetry.instrumentation._semconv import _StabilityMode
        from opentelemetry.instrumentation.asgi import set_status_code

        set_status_code(span, status, None, _StabilityMode.HTTP)  # type: ignore[no-untyped-call]
        return
    span.set_attribute("http.response.status_code", status)
    if status < 100 or status > 499:  # 4xx is the client's error, not the server span's
        span.set_attribute("error.type", str(status))
        span.set_status(Status(StatusCode.ERROR))
