"""A caller and a callee built like the shop's services, for the discovery tests.

front: GET /call -> POST backend /work once through the shop's ServiceClient (round robin
       over the registry's membership, no retry: a lost request shows as a 502)
backend: POST /work -> {"replica": N} after 20 ms
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from instrumentation import instrument
from sample_system.common.errors import DependencyUnavailable
from sample_system.common.http import client_from_env
from sample_system.common.resilience import Policy


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if os.environ.get("CALLS"):
        app.state.backend = client_from_env(
            os.environ, "backend", Policy(timeout=2.0, attempts=1, max_concurrent=500)
        )
        yield
        await app.state.backend.aclose()
    else:
        yield


app = FastAPI(lifespan=lifespan)
instrument(app)


@app.get("/readyz")
async def ready() -> dict[str, bool]:
    return {"ready": True}


@app.post("/work")
async def work() -> dict[str, str]:
    await asyncio.sleep(0.02)
    return {"replica": os.environ.get("GAMEDAY_REPLICA", "?")}


@app.get("/call")
async def call() -> JSONResponse:
    try:
        response = await app.state.backend.request("POST", "/work", idempotent=False)
    except DependencyUnavailable as exc:
        return JSONResponse({"error": str(exc)}, status_code=502)
    return JSONResponse(response.json())
