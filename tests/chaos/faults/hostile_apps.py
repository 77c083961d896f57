"""Small services for the hostile-input tests: one that breaks on bad input, one that does not.

Both serve the same API: a page of items, an item's creation, a health check. The careless one
passes the page's `offset` to SQLite unbounded (a huge number overflows SQLite's 64-bit
integer: 500) and divides by a field it never checked (`per_box: 0`: 500); the careful one
bounds both at the edge, so FastAPI answers 422 instead.
"""

# No `from __future__ import annotations`: FastAPI reads these annotations at run time.
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

SQLITE_MAX = 2**63 - 1


class CarelessItem(BaseModel):
    """Any integers at all."""

    name: str
    count: int
    per_box: int


class CarefulItem(BaseModel):
    """Bounded where it matters."""

    name: Annotated[str, Field(max_length=100)]
    count: Annotated[int, Field(ge=0, le=1_000_000)]
    per_box: Annotated[int, Field(ge=1, le=1000)]


class Store:
    """An SQLite table shared by the requests of one app."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE items (name TEXT, boxes INTEGER)")
        self.lock = threading.Lock()

    def page(self, limit: int, offset: int) -> list[str]:
        with self.lock:
            rows = self.db.execute("SELECT name FROM items LIMIT ? OFFSET ?", (limit, offset))
            return [name for (name,) in rows.fetchall()]

    def add(self, name: str, count: int, per_box: int) -> dict[str, int]:
        boxes = count // per_box
        with self.lock:
            self.db.execute("INSERT INTO items VALUES (?, ?)", (name, boxes))
        return {"boxes": boxes}


def careless_app() -> FastAPI:
    """Unbounded `offset` into SQLite, division by an unchecked field: bad input answers 500."""
    app, store = _base("careless")

    @app.get("/items")
    def list_items(
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[str]:
        return store.page(limit, offset)

    @app.post("/items", status_code=201)
    def create_item(item: CarelessItem) -> dict[str, int]:
        return store.add(item.name, item.count, item.per_box)

    return app


def careful_app() -> FastAPI:
    """The same API with its input bounded at the edge: bad input answers 422."""
    app, store = _base("careful")

    @app.get("/items")
    def list_items(
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        offset: Annotated[int, Query(ge=0, le=SQLITE_MAX)] = 0,
    ) -> list[str]:
        return store.page(limit, offset)

    @app.post("/items", status_code=201)
    def create_item(item: CarefulItem) -> dict[str, int]:
        return store.add(item.name, item.count, item.per_box)

    return app


def touchy_app() -> FastAPI:
    """Items looked up by id (none exists: 404), behind a breaker that counts refusals.

    Five 404s in a row open it for two seconds, and then everybody gets 503: the shop's gateway
    with the `breaker-counts-refusals` mutant, in one process. Any other answer resets it.
    """
    app, _ = _base("touchy")
    breaker = {"refusals": 0, "open_until": 0.0}

    @app.middleware("http")
    async def count_refusals(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if time.monotonic() < breaker["open_until"]:
            return JSONResponse({"error": "the breaker is open"}, status_code=503)
        response = await call_next(request)
        if response.status_code == 404:
            breaker["refusals"] += 1
            if breaker["refusals"] >= 5:
                breaker["refusals"], breaker["open_until"] = 0, time.monotonic() + 2.0
        else:
            breaker["refusals"] = 0
        return response

    @app.get("/items/{item_id}")
    def get_item(item_id: Annotated[int, Path(ge=1, le=1000)]) -> dict[str, int]:
        raise HTTPException(404, f"there is no item {item_id}")

    return app


def _base(title: str) -> tuple[FastAPI, Store]:
    app = FastAPI(title=title)
    store = Store()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app, store
