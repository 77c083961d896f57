"""The embedded Toxiproxy-compatible fault proxy (a drop-in for Toxiproxy v2.12.0).

Run it with `gameday proxy`, or from Python with `serve_in_thread()` / `spawn_subprocess()`;
drive it with any Toxiproxy client (the suite uses `chaos.proxy.client.ToxiproxyClient`).

Names are imported on first use, so `gameday proxy --help` does not load the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaos.proxy.launch import ProxyProcess, RunningServer, serve_in_thread, spawn_subprocess
    from chaos.proxy.server import ProxyServer, ServerStats

__all__ = [
    "ProxyProcess",
    "ProxyServer",
    "RunningServer",
    "ServerStats",
    "serve_in_thread",
    "spawn_subprocess",
]

_WHERE = {
    "ProxyProcess": "chaos.proxy.launch",
    "RunningServer": "chaos.proxy.launch",
    "serve_in_thread": "chaos.proxy.launch",
    "spawn_subprocess": "chaos.proxy.launch",
    "ProxyServer": "chaos.proxy.server",
    "ServerStats": "chaos.proxy.server",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'chaos.proxy' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
