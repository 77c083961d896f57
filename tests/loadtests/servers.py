"""Tiny HTTP servers on 127.0.0.1 for the loadtests tests, one of which stalls on purpose."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chaos.net import LOOPBACK, free_port, wait_for_port


class StallingServer(ThreadingHTTPServer):
    """Answers 200 at once, except that it freezes every request for `stall_for` seconds,
    once, `stall_after` seconds after its first request (a GC pause, a stuck lock)."""

    daemon_threads = True

    def __init__(self, port: int, stall_after: float | None, stall_for: float) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.stall_after = stall_after
        self.stall_for = stall_for
        self.gate = threading.Lock()
        self.first: float | None = None
        self.stalled = False

    def pass_gate(self) -> None:
        with self.gate:  # while one request holds the gate stalled, every request waits here
            now = time.monotonic()
            self.first = self.first or now
            due = self.stall_after is not None and now - self.first >= self.stall_after
            if due and not self.stalled:
                self.stalled = True
                time.sleep(self.stall_for)  # the fault being simulated, not a wait


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delay
    server: StallingServer

    def _answer(self) -> None:
        self.server.pass_gate()
        status = 500 if self.path.startswith("/fail") else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(stall_after: float | None, stall_for: float) -> Iterator[str]:
    """Run a StallingServer in a thread on a free port; yield its base URL."""
    port = free_port()
    server = StallingServer(port, stall_after, stall_for)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wait_for_port(LOOPBACK, port)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.shutdown()
        server.server_close()
