"""A two-service system for the experiment runner tests: front -> back.

front: GET /fast answers locally; GET /dep calls back with FRONT_TIMEOUT seconds of
timeout ("none": no timeout at all — the isolation bug the suite must catch) and answers
503 when back fails or is too slow. back: GET /work.
"""

from __future__ import annotations

import os
import sys

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

ROLE = os.environ.get("GAMEDAY_SERVICE", "back")
app = FastAPI(title=ROLE)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.get("/work")
async def work() -> dict[str, bool]:
    return {"ok": True}


@app.get("/fast")
async def fast() -> dict[str, bool]:
    return {"ok": True}


_raw_timeout = os.environ.get("FRONT_TIMEOUT", "0.5")
_timeout = None if _raw_timeout == "none" else float(_raw_timeout)
_client: httpx.AsyncClient | None = None


@app.get("/dep")
async def dep() -> JSONResponse:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(timeout=httpx.Timeout(_timeout))
    url = os.environ.get("BACK_URLS", "").split(",")[0]
    try:
        response = await _client.get(f"{url}/work")
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return JSONResponse({"error": f"back failed: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"ok": True})


if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
