"""What every service of the shop shares at its HTTP edge: the app factory and error bodies.

Every error answer is JSON that names the problem and the fix, never a traceback (its model,
`ErrorBody`, is in `openapi.py`):

    {"error": "invalid_request", "message": "body.items.0.quantity: Input should be ...",
     "fix": "...", "problems": [{"field": "body.items.0.quantity", "problem": "...", "got": 0}]}

Every service but the public gateway answers only the shop's own services (`auth.py`).
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from instrumentation import ReadinessCheck, instrument
from sample_system.common import auth
from sample_system.common.db import Database, service_database
from sample_system.common.errors import ApiError, DependencyUnavailable
from sample_system.common.openapi import (
    allowed_methods,
    document_framework_answers,
    query_parameters,
)

logger = logging.getLogger(__name__)

ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
OrderId = Annotated[
    str, Path(pattern=ORDER_ID_PATTERN, description="an order id: 1-64 letters, digits, '-', '_'")
]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is named, not ignored."""

    model_config = ConfigDict(extra="forbid")


def service_app(
    name: str,
    lifespan: Lifespan,
    *,
    environ: Mapping[str, str] | None = None,
    public: bool = False,
) -> FastAPI:
    """A FastAPI app for service `name`: JSON errors everywhere, instrumented.

    Unless `public`, every request must carry the run's secret (`auth.py`); every service
    reads the secret from `environ` (default: the process environment) at startup.
    """

    @asynccontextmanager
    async def with_secret(app: FastAPI) -> AsyncIterator[None]:
        app.state.run_secret = auth.run_secret(os.environ if environ is None else environ)
        async with lifespan(app):
            yield

    app = FastAPI(title=name, lifespan=with_secret, dependencies=[Depends(known_query)])
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DependencyUnavailable, _dependency_unavailable)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
    _document_with(app, document_framework_answers)
    if not public:
        app.add_middleware(auth.InternalAuth)
        _document_with(app, auth.document)
    instrument(app)
    # httpx logs every request at INFO; the client metrics and spans already record each one.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return app


async def known_query(request: Request) -> None:
    """Refuse query parameters the operation does not have: a typo is named, not ignored."""
    route = request.scope.get("route")
    known = query_parameters(request.app, getattr(route, "path", ""), request.method)
    if known is None:  # not a documented operation
        return
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise ApiError(
            422,
            "invalid_request",
            f"query.{_printable(unknown[0])}: not a parameter of {request.url.path}",
            f"use only the query parameters this operation has ({listed}); see /docs",
            problems=[
                {"field": f"query.{_printable(name)}", "problem": "unknown query parameter"}
                for name in unknown
            ],
        )


def _document_with(app: FastAPI, change: Callable[[dict[str, Any]], Any]) -> None:
    """Apply `change` to the app's OpenAPI document once, when it is first built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            change(build())
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def error_response(error: ApiError) -> JSONResponse:
    """The JSON answer for an `ApiError`."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _problem(error: Any) -> dict[str, Any]:
    loc = [_printable(str(part)) for part in error.get("loc", ())]
    if loc[:1] == ["header"] and len(loc) > 1:  # as the client spells it: Idempotency-Key
        loc[1] = "-".join(word.capitalize() for word in loc[1].split("-"))
    field = ".".join(loc)
    problem: dict[str, Any] = {"field": field, "problem": _printable(error.get("msg", "invalid"))}
    if "input" in error and error.get("type") != "missing":
        value = error["input"]
        if isinstance(value, str):
            problem["got"] = _printable(value[:100])
        elif isinstance(value, float) and not math.isfinite(value):
            problem["got"] = str(value)  # NaN and Infinity are not JSON
        elif isinstance(value, int | float | bool) or value is None:
            problem["got"] = value
    return problem


def _printable(text: str) -> str:
    """`text` as valid UTF-8: a lone surrogate from a JSON escape becomes '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


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
    code = {400: "malformed_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    fix = {
        400: "send the body as JSON encoded in UTF-8",
        404: f"check the path; the API of {request.app.title} is at /docs",
        405: "use one of the methods in the Allow header",
    }.get(exc.status_code, "see /docs")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of one route only; the path may have several.
        allowed = allowed_methods(request.app, request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return JSONResponse(
        {
            "error": code,
            "message": f"{request.method} {request.url.path}: {exc.detail}",
            "fix": fix,
        },
        status_code=exc.status_code,
        headers=headers,
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
