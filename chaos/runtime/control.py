"""The runtime's local HTTP endpoint: the registry of live replicas, status, and scaling.

    GET  /v1/endpoints/<service>?caller=&instance=&version=&wait=   membership (long poll)
    GET  /v1/registry                     every service's replicas and every edge's proxies
    GET  /v1/status                       the state file's body, plus autoscaler decisions
    POST /v1/scale  {"service": "payments", "replicas": 3}          change a replica count

Bound to 127.0.0.1 on a free port; services get its base URL in GAMEDAY_REGISTRY_URL and
`gameday scale S=N` finds it in the state file (`control`). Documented in docs/runtime.md.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from chaos.errors import GamedayError
from chaos.net import LOOPBACK
from chaos.runtime.registry import Registry

logger = logging.getLogger("chaos.runtime")

MAX_WAIT = 30.0


class Controlled(Protocol):
    """What the endpoint needs from a running system."""

    def snapshot(self) -> dict[str, Any]: ...
    def scale(self, service: str, replicas: int) -> dict[str, Any]: ...


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # events are logged elsewhere
        pass

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, error: str, message: str, fix: str) -> None:
        self._reply(status, {"error": error, "message": message, "fix": fix})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        registry = self.server.registry
        if url.path.startswith("/v1/endpoints/"):
            service = url.path.removeprefix("/v1/endpoints/")
            try:
                after = int(query.get("version", "0"))
                wait = min(MAX_WAIT, max(0.0, float(query.get("wait", "0"))))
            except ValueError:
                self._error(
                    400,
                    "invalid_request",
                    f"bad version or wait in {url.query!r}",
                    "pass whole numbers: ?version=3&wait=10",
                )
                return
            if wait > 0:
                registry.wait(after, wait)
            try:
                membership = registry.endpoints(service, query.get("caller"))
            except (GamedayError, KeyError) as exc:
                self._error(
                    404,
                    "not_found",
                    str(exc).strip("'\""),
                    "GET /v1/registry lists every service and edge",
                )
                return
            if "instance" in query:
                registry.saw(query["instance"], service, membership.version)
            self._reply(200, membership.to_json())
        elif url.path == "/v1/registry":
            self._reply(200, registry.to_json())
        elif url.path == "/v1/status":
            self._reply(200, self.server.system.snapshot())
        else:
            self._error(404, "not_found", f"GET {url.path}", "see docs/runtime.md for the API")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/v1/scale":
            self._error(404, "not_found", f"POST {self.path}", "POST /v1/scale")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            service, replicas = str(body["service"]), body["replicas"]
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                raise TypeError(replicas)
        except (ValueError, KeyError, TypeError):
            example = json.dumps({"service": "payments", "replicas": 3})
            self._error(
                400,
                "invalid_request",
                'the body must be {"service": NAME, "replicas": N}',
                f"send e.g. {example}",
            )
            return
        try:
            result = self.server.system.scale(service, replicas)
        except GamedayError as exc:
            self._error(409, "cannot_scale", str(exc), "fix the request and try again")
            return
        except Exception as exc:  # reported, not fatal for the runtime
            logger.exception("scaling %s to %d failed", service, replicas)
            self._error(
                500, "scale_failed", f"{type(exc).__name__}: {exc}", "see the supervisor's log"
            )
            return
        self._reply(200, result)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A caller that stopped while its long poll was waiting is not an error of ours.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def __init__(self, port: int, registry: Registry, system: Controlled) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.registry = registry
        self.system = system


class ControlServer:
    """The endpoint, served from a daemon thread."""

    def __init__(self, port: int, registry: Registry, system: Controlled) -> None:
        self._server = _Server(port, registry, system)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gameday-control", daemon=True
        )

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> None:
        """Serve from now on."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
