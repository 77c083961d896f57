"""FastAPI apps used by the instrumentation tests, in this process or under uvicorn."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI, HTTPException

from instrumentation import dependency_client

log = logging.getLogger("tests.app")


def build_app(title: str = "svc", downstream: str | None = None) -> FastAPI:
    """An uninstrumented app with parametrised, failing, mounted and downstream-calling routes."""
    app = FastAPI(title=title)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        log.info("item %s", item_id)
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "no such thing")

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    @app.get("/chain")
    async def chain() -> dict[str, Any]:
        async with dependency_client("downstream", base_url=downstream or "http://invalid") as c:
            response = await c.get("/items/7", headers={"Authorization": "Bearer s3cret"})
        log.info("called downstream")
        return {
            "downstream": response.json(),
            "traceparent": response.request.headers.get("traceparent"),
        }

    sub = FastAPI()

    @sub.get("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        return {"thing": thing}

    app.mount("/sub", sub)
    return app
