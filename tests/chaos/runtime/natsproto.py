"""Just enough of the NATS client protocol to call the JetStream API from a test."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit


def request(url: str, subject: str, payload: dict[str, Any] | str, timeout: float = 5.0) -> Any:
    """Publish `payload` to `subject` with a reply inbox; the decoded JSON reply."""
    parts = urlsplit(url)
    body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"INFO ")
        sock.sendall(
            b'CONNECT {"verbose":false,"pedantic":false}\r\n'
            b"SUB _INBOX.test 1\r\n"
            + f"PUB {subject} _INBOX.test {len(body)}\r\n".encode()
            + body
            + b"\r\n"
        )
        while True:
            line = reader.readline()
            if not line:
                raise ConnectionError(f"NATS closed the connection waiting for {subject}")
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise ConnectionError(line.decode().strip())
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                data = reader.read(size + 2)[:size]
                return json.loads(data)
