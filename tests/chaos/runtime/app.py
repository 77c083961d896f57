"""A tiny service for runtime tests (stdlib only, starts in milliseconds).

    python -m tests.chaos.runtime.app --port PORT

GET /readyz → 200; /metrics → Prometheus text; /whoami → this replica; /env → what gameday
passed in; /call → /whoami of the next replica in `<CALLS>_URLS` (502 when that fails);
/nats → the INFO line of the first server in NATS_URLS (502 when unreachable).
`--exit-at-start CODE` exits at once; `--exit-after S` crashes (exit 1) S seconds after start.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SERVED = itertools.count()
_TURN = itertools.count()
_LOCK = threading.Lock()


def whoami() -> dict[str, object]:
    return {
        "service": os.environ.get("GAMEDAY_SERVICE"),
        "replica": os.environ.get("GAMEDAY_REPLICA"),
        "pid": os.getpid(),
    }


def call_dependency() -> tuple[int, dict[str, object]]:
    name = os.environ.get("CALLS", "")
    urls = [u for u in os.environ.get(f"{name.upper()}_URLS", "").split(",") if u]
    if not urls:
        return 500, {"error": f"no {name.upper()}_URLS"}
    with _LOCK:
        url = urls[next(_TURN) % len(urls)]
    try:
        with urllib.request.urlopen(f"{url}/whoami", timeout=2) as response:
            return 200, {"via": url, "upstream": json.loads(response.read())}
    except OSError as exc:
        return 502, {"via": url, "error": str(exc)}


def nats_info() -> tuple[int, dict[str, object]]:
    first = os.environ.get("NATS_URLS", "").split(",")[0]
    parts = urlsplit(first)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2) as sock:
            line = sock.makefile("rb").readline().decode()
    except (OSError, TypeError) as exc:
        return 502, {"via": first, "error": str(exc)}
    if not line.startswith("INFO "):
        return 502, {"via": first, "error": f"unexpected greeting {line!r}"}
    return 200, {"via": first, "server_id": json.loads(line[5:])["server_id"]}


def _shown(variable: str) -> bool:
    return variable.startswith(("GAMEDAY_", "OTEL_", "PYTHONPATH")) or variable.endswith("_URLS")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        served = next(SERVED)
        status: int = 404
        body: dict[str, object] = {"error": "not found"}
        if self.path == "/readyz":
            status, body = 200, {"ready": True}
        elif self.path == "/whoami":
            status, body = 200, whoami()
        elif self.path == "/env":
            status, body = 200, {k: v for k, v in os.environ.items() if _shown(k)}
        elif self.path == "/call":
            status, body = call_dependency()
        elif self.path == "/nats":
            status, body = nats_info()
        elif self.path == "/metrics":
            text = f"# TYPE app_requests_total counter\napp_requests_total {served}\n"
            self.reply(200, text.encode(), "text/plain; version=0.0.4")
            return
        self.reply(status, json.dumps(body).encode(), "application/json")

    def reply(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests read the log
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-at-start", type=int, default=None)
    parser.add_argument("--exit-after", type=float, default=None, help="crash after S seconds")
    args = parser.parse_args()
    if args.exit_at_start is not None:
        print("app: exiting at start as asked", flush=True)
        raise SystemExit(args.exit_at_start)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.exit_after is not None:
        threading.Timer(args.exit_after, os._exit, args=(1,)).start()
    print(f"app {whoami()} listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
