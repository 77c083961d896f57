"""Service-to-service authentication: one secret per system run, sent as a bearer token.

The gameday runtime generates a secret for each run and gives it to every service process as
`GAMEDAY_RUN_SECRET` (never on a command line, in a URL, a log or a span). Callers send it
on every request to another service of the shop:

    Authorization: Bearer <GAMEDAY_RUN_SECRET>

(`client_from_env` in `http.py` adds the header), and every internal service refuses a
request without it with a 401, before routing or validation, except `/healthz`, `/readyz`
and `/metrics` (answered by the instrumentation, outside the app). The gateway's public API
uses API keys instead (`X-API-Key`). The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sample_system.common.errors import ConfigError
from sample_system.common.openapi import (
    HTTP_METHODS,
    ErrorBody,
    add_error_body,
    error_reference,
)

SECRET_ENV = "GAMEDAY_RUN_SECRET"
MIN_SECRET_LENGTH = 16
SCHEME = "serviceToken"  # the OpenAPI security scheme of the internal services
CHALLENGE = 'Bearer realm="shop-internal"'


def run_secret(environ: Mapping[str, str]) -> str:
    """The run's secret from `GAMEDAY_RUN_SECRET`; ConfigError (naming the fix) if unusable."""
    secret = environ.get(SECRET_ENV, "").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        shown = "is not set" if not secret else f"is only {len(secret)} characters long"
        raise ConfigError(
            f"{SECRET_ENV} {shown}; services authenticate each other with it. The gameday "
            "runtime sets it for every run; to start a service by hand, give every service "
            f"the same value of at least {MIN_SECRET_LENGTH} characters, e.g. "
            f"export {SECRET_ENV}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return secret


def internal_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """The header a caller sends to another service of the shop."""
    return {"Authorization": f"Bearer {run_secret(environ)}"}


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The bearer token of an `Authorization` header, None when there is none."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_valid(token: str | None, secret: str) -> bool:
    """True when `token` is the secret; constant time, whatever the token."""
    return hmac.compare_digest((token or "").encode(), secret.encode())


class InternalAuth:
    """ASGI middleware: every HTTP request must carry the run's secret, or gets a 401.

    The secret comes from the app's state (`app.state.run_secret`, set by its lifespan), so
    settings are read at startup like every other one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (the shop serves no websockets)
            await self.app(scope, receive, send)
            return
        token = presented_token(Headers(scope=scope))
        secret: str = scope["app"].state.run_secret
        if is_valid(token, secret):
            await self.app(scope, receive, send)
            return
        code, message = (
            ("missing_service_token", "this service only answers the shop's own services")
            if token is None
            else ("invalid_service_token", "the service token is not this run's")
        )
        body = ErrorBody(
            error=code,
            message=message,
            fix=f"send Authorization: Bearer ${SECRET_ENV} (the run's secret, in every "
            "service's environment and in <run dir>/secret)",
        )
        refusal = JSONResponse(
            body.model_dump(exclude_defaults=True),
            status_code=401,
            headers={"WWW-Authenticate": CHALLENGE},
        )
        await refusal(scope, receive, send)


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the bearer scheme, required by every operation and its 401, to an OpenAPI document."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": f"the run's secret ({SECRET_ENV}); only the shop's services have it",
    }
    add_error_body(schema)
    schema["security"] = [{SCHEME: []}]
    unauthorized = error_reference(401, "the service token is missing or not this run's")
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                operation.setdefault("responses", {}).setdefault("401", unauthorized)
    return schema
