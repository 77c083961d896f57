"""Helpers for the embedded Toxiproxy tests: raw HTTP, real TCP peers, polling."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Answer:
    """One raw HTTP answer."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class Api:
    """Raw HTTP against the server: exact bytes in, exact bytes out."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | object | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        if body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(
                method, path, body=body, headers={"User-Agent": "tests", **(headers or {})}
            )
            response = conn.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: object) -> Answer:
        return self.request("GET", path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, body: object = None, **kw: object) -> Answer:
        return self.request("POST", path, body, **kw)  # type: ignore[arg-type]

    def patch(self, path: str, body: object = None) -> Answer:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Answer:
        return self.request("DELETE", path)

    def proxy(self, name: str, upstream: str, **fields: object) -> int:
        """Create a proxy listening on a free loopback port; its port."""
        answer = self.post(
            "/proxies", {"name": name, "upstream": upstream, "listen": "127.0.0.1:0", **fields}
        )
        assert answer.status == 201, answer.body
        listen = answer.json()["listen"]  # type: ignore[index]
        return int(listen.rsplit(":", 1)[1])

    def toxic(self, proxy: str, type_: str, **fields: object) -> dict[str, object]:
        answer = self.post(f"/proxies/{proxy}/toxics", {"type": type_, **fields})
        assert answer.status == 200, answer.body
        return answer.json()  # type: ignore[return-value]


class Peer:
    """A threaded TCP server on a free loopback port; `handler(conn)` serves each client."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port: int = self.listener.getsockname()[1]
        self.handler = handler
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
        self.listener.close()
        for conn in self.accepted:
            with contextlib.suppress(OSError):
                conn.close()


def echo_handler(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(65536):
        conn.sendall(data)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    """A client socket to 127.0.0.1:port."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly `size` bytes (fails on early EOF)."""
    chunks = bytearray()
    while len(chunks) < size:
        data = sock.recv(min(1 << 20, size - len(chunks)))
        if not data:
            raise EOFError(f"EOF after {len(chunks)} of {size} bytes")
        chunks += data
    return bytes(chunks)


def recv_all(sock: socket.socket) -> bytes:
    """Read until EOF."""
    chunks = bytearray()
    while data := sock.recv(1 << 20):
        chunks += data
    return bytes(chunks)


def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `check` until true (never sleep-and-hope)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.01)
