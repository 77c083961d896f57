"""A three-service system whose matrix has a known answer: front -> alpha, front -> beta.

front (public, instrumented, so its spans give the journeys' call graphs):
- GET /local answers by itself (journey `local`);
- GET /a calls alpha with a 0.3 s timeout and falls back to a default answer (journey `a`:
  isolated from alpha, and from everything else);
- GET /b calls beta (journey `b`) — the deliberate isolation bug: with no timeout, through
  the same pool of connections as the calls to alpha (FRONT_POOL, default 8). When beta
  is slow its calls hold the whole pool, and journey `a` waits for a connection to alpha.
alpha and beta: GET /work.
"""

from __future__ import annotations

import os
import sys

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from instrumentation import instrument

ROLE = os.environ.get("GAMEDAY_SERVICE", "alpha")
app = FastAPI(title=ROLE)
_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    """One pool for every dependency (the bug), limited to FRONT_POOL connections."""
    global _client
    if _client is None:
        pool = int(os.environ.get("FRONT_POOL", "8"))
        _client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=pool), timeout=httpx.Timeout(None)
        )
    return _client


def _url(dependency: str) -> str:
    return os.environ[f"{dependency.upper()}_URLS"].split(",")[0]


@app.get("/work")
async def work() -> dict[str, bool]:
    return {"ok": True}


@app.get("/local")
async def local() -> dict[str, bool]:
    return {"ok": True}


@app.get("/a")
async def a() -> JSONResponse:
    try:
        response = await client().get(f"{_url('alpha')}/work", timeout=0.3)
        response.raise_for_status()
    except httpx.HTTPError:
        return JSONResponse({"ok": True, "fallback": True})
    return JSONResponse({"ok": True})


@app.get("/b")
async def b() -> JSONResponse:
    try:
        response = await client().get(f"{_url('beta')}/work")
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return JSONResponse({"error": f"beta failed: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"ok": True})


instrument(app)

if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
