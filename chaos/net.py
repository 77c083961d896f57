"""Loopback networking helpers shared by the proxy, the runtime and the tests."""

from __future__ import annotations

import ipaddress
import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on `host` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_loopback(host: str) -> bool:
    """True when `host` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=interval * 10):
                return
        except OSError:
            if time.monotonic() >= deadline:
                message = f"nothing listens on {host}:{port} after {timeout:.1f}s"
                raise TimeoutError(message) from None
            time.sleep(interval)
