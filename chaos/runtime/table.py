"""The text `gameday up` and `gameday status` print: processes, then proxies. Pure.

system bench  run dir .gameday/runs/bench-20261122-101500-4242  supervisor pid 4242
SERVICE        REPLICA  PID    PORT   STATE    RESTARTS  URL
nats           0        4250   41003  running  0         nats://127.0.0.1:41003
...
PROXY             LISTEN           UPSTREAM
front.backend.0   127.0.0.1:41001  127.0.0.1:40001
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def columns(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Left-aligned columns, two spaces apart."""
    cells = [[str(c) for c in header], *[["-" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def render(state: Mapping[str, Any], healthy: Mapping[tuple[str, int], bool] | None = None) -> str:
    """The state file (or `RunningSystem.snapshot()`) as text; `healthy` adds a column."""
    supervisor = (state.get("supervisor") or {}).get("pid")
    lines = [
        f"system {state.get('system')}  run dir {state.get('run_dir')}"
        + (f"  supervisor pid {supervisor}" if supervisor else ""),
        f"fault proxy API {state.get('toxiproxy')}"
        + (f"  prometheus {state['prometheus']}" if state.get("prometheus") else ""),
        "",
    ]
    header = ["SERVICE", "REPLICA", "PID", "PORT", "STATE", "RESTARTS", "URL"]
    if healthy is not None:
        header.insert(5, "HEALTHY")
    rows = []
    for p in state.get("processes") or ():
        row: list[object] = [
            p["service"], p["replica"], p["pid"], p["port"], p["state"], p["restarts"], p["url"],
        ]  # fmt: skip
        if healthy is not None:
            row.insert(5, "yes" if healthy.get((p["service"], p["replica"])) else "NO")
        rows.append(row)
    lines += columns(header, rows)
    proxies = state.get("proxies") or ()
    if proxies:
        lines += ["", *columns(["PROXY", "LISTEN", "UPSTREAM"], [
            (p["name"], p["listen"], p["upstream"]) for p in proxies
        ])]  # fmt: skip
    return "\n".join(lines)
