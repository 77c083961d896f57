"""What every service of the shop shares at its HTTP edge: the app factory and error bodies.

Every error answer is JSON that names the problem and the fix, never a traceback:

    {"error": "invalid_request", "message": "body.items.0.quantity: Input should be ...",
     "fix": "...", "problems": [{"field": "body.items.0.quantity", "problem": "...", "got": 0}]}
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from instrumentation import ReadinessCheck, instrument
from sample_system.common.db import Database, service_database
from sample_system.common.errors import ApiError, DependencyUnavailable

logger = logging.getLogger(__name__)

ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
OrderId = Annotated[
    str, Path(pattern=ORDER_ID_PATTERN, description="an order id: 1-64 letters, digits, '-', '_'")
]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is named, not ignored."""

    model_config = ConfigDict(extra="forbid")


def service_app(name: str, lifespan: Lifespan) -> FastAPI:
    """A FastAPI app for service `name`: JSON errors everywhere, instrumented."""
    app = FastAPI(title=name, lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DependencyUnavailable, _dependency_unavailable)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
    instrument(app)
    # httpx logs every request at INFO; the client metrics and spans already record each one.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return app


def error_response(error: ApiError) -> JSONResponse:
    """The JSON answer for an `ApiError`."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _problem(error: Any) -> dict[str, Any]:
    field = ".".join(str(part) for part in error.get("loc", ()))
    problem: dict[str, Any] = {"field": field, "problem": error.get("msg", "invalid")}
    if "input" in error and error.get("type") != "missing":
        value = error["input"]
        if isinstance(value, str | int | float | bool) or value is None:
            problem["got"] = value if not isinstance(value, str) else value[:100]
    return problem


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(error) for error in exc.errors()]
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
    return JSONResponse(
        {
            "error": "invalid_request",
            "message": summary or "the request is invalid",
            "fix": f"correct the named fields; the API of {request.app.title} is at /docs",
            "problems": problems,
        },
        status_code=422,
    )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _dependency_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DependencyUnavailable)
    return error_response(exc.api_error())


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    fix = {
        404: f"check the path; the API of {request.app.title} is at /docs",
        405: "use one of the methods in the Allow header",
    }.get(exc.status_code, "see /docs")
    return JSONResponse(
        {
            "error": code,
            "message": f"{request.method} {request.url.path}: {exc.detail}",
            "fix": fix,
        },
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse(
        {
            "error": "internal_error",
            "message": f"an unexpected {type(exc).__name__} occurred; it was logged",
            "fix": "retry; if it persists, look for the trace id in the service's log",
        },
        status_code=500,
    )


def add_readiness(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Make the app's `/readyz` depend on `check` too."""
    instrument(app).add_readiness_check(name, check)


@asynccontextmanager
async def open_database(
    app: FastAPI,
    environ: Mapping[str, str],
    schema: str,
    *,
    seed: Callable[[sqlite3.Connection], None] | None = None,
) -> AsyncIterator[Database]:
    """The service's database for the app's lifetime: opened, seeded, in `/readyz`, closed."""
    db = service_database(environ, app.title, schema)
    await db.open()
    try:
        if seed is not None:
            await db.write(seed)
        app.state.db = db
        add_readiness(app, "db", db.ping)
        yield db
    finally:
        await db.close()


def database(request: Request) -> Database:
    """The database of the app serving `request` (opened by `open_database`)."""
    db: Database = request.app.state.db
    return db
