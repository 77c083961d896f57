"""Liveness (`/healthz`) and readiness (`/readyz`) with pluggable checks."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.types import Send

logger = logging.getLogger(__name__)

# A readiness check returns True (ready), False or raises (not ready); sync or async.
ReadinessCheck = Callable[[], bool | Awaitable[bool]]

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"


@dataclass
class Readiness:
    """The named readiness checks of one service; each gets `timeout` seconds."""

    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    timeout: float = 2.0

    def add(self, name: str, check: ReadinessCheck) -> None:
        """Register (or replace) a readiness check under `name`."""
        if not callable(check):
            raise TypeError(f"readiness check {name!r} must be callable, got {check!r}")
        self.checks[name] = check

    async def _run_one(self, check: ReadinessCheck) -> str:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, self.timeout)
        except TimeoutError:
            return f"timed out after {self.timeout}s"
        except Exception as exc:  # a failing check means "not ready", never a crash
            return f"{type(exc).__name__}: {exc}"
        return "ok" if result else "failed"

    async def evaluate(self) -> tuple[bool, dict[str, str]]:
        """Run every check concurrently; ready only when all say ok."""
        names = list(self.checks)
        results = await asyncio.gather(*(self._run_one(self.checks[n]) for n in names))
        outcome = dict(zip(names, results, strict=True))
        return all(r == "ok" for r in results), outcome


async def send_json(send: Send, status: int, body: object) -> None:
    """Send a complete JSON response on a raw ASGI `send`."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def serve_health(path: str, readiness: Readiness, send: Send) -> None:
    """Answer `/healthz` or `/readyz`."""
    if path == HEALTH_PATH:
        await send_json(send, 200, {"status": "ok"})
        return
    ready, checks = await readiness.evaluate()
    if not ready:
        logger.warning("not ready: %s", checks)
    await send_json(
        send, 200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks}
    )
