"""What the shop's OpenAPI documents promise: one error body, each operation's statuses, `Allow`.

Every 4xx/5xx answer of every service has the same body, `ErrorBody`. An operation lists the
error statuses it can answer with `errors(404, 422)`, so its document says what a client
will really see; tests/sample_system/test_contracts.py runs schemathesis against every
running service to hold the documents to that.

    @router.get("/products/{product_id}", response_model=Product, responses=errors(404, 422))
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import compile_path

DESCRIPTIONS = {
    400: "the body cannot be read: not JSON, or not UTF-8",
    401: "credentials are missing or not valid",
    402: "the card was declined",
    404: "the resource does not exist",
    409: "the request conflicts with the current state",
    422: "the request is invalid; `problems` names each invalid field",
    429: "rate limited; retry after `Retry-After` seconds",
    503: "a dependency is unavailable; retry after `Retry-After` seconds",
}

_TEXT = {"type": "string"}
_RETRY_AFTER = {"description": "seconds to wait before retrying", "schema": _TEXT}
HEADERS: dict[int, dict[str, dict[str, Any]]] = {
    401: {"WWW-Authenticate": {"description": "the credentials to send", "schema": _TEXT}},
    429: {"Retry-After": {**_RETRY_AFTER, "required": True}},
    503: {"Retry-After": {**_RETRY_AFTER, "required": True}},
}

REF_TEMPLATE = "#/components/schemas/{model}"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class Problem(BaseModel):
    """One invalid part of a request."""

    field: str = Field(description="where: body.items.0.quantity, query.limit, header.x-api-key")
    problem: str = Field(description="what is wrong with it")
    got: str | int | float | bool | None = Field(
        default=None, description="the value received, when it can be shown (strings cut to 100)"
    )


class ErrorBody(BaseModel):
    """The body of every error answer: a stable code, what is wrong, and the fix.

    Some errors add details: `dependency` (503), `retry_after_seconds` (429), `order` (a
    checkout that failed), `product_id` and `available` (out of stock).
    """

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="a stable code: invalid_request, product_not_found, ...")
    message: str = Field(description="what is wrong, naming the offending value")
    fix: str = Field(description="what to do about it")
    problems: list[Problem] = Field(
        default_factory=list, description="on 422: each invalid field of the request"
    )


def _documented(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response of one error status, with `ErrorBody` and its headers."""
    response: dict[str, Any] = {
        "model": ErrorBody,
        "description": description or DESCRIPTIONS.get(status, "an error"),
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def errors(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for an operation: each status (or `(status, description)`) as an error."""
    found: dict[int | str, dict[str, Any]] = {}
    for entry in statuses:
        status, description = entry if isinstance(entry, tuple) else (entry, None)
        found[status] = _documented(status, description)
    return found


def link(method: str, path: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to the operation `method path`, with parameters from this exchange:

        links={"GetCharge": link("GET", "/charges/{order_id}", order_id="$request.path.order_id")}

    Clients (and schemathesis's stateful tests) follow them from a response to the next call.
    """
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method.lower()}", "parameters": parameters}


def document_framework_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """Add what every operation may answer, whatever it does, to an app's OpenAPI document:

    a 422 for a query parameter it does not have (`api.known_query`), and, if it takes a body,
    the framework's 400 for a body that is not JSON in UTF-8.
    """
    add_error_body(schema)
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("422", error_reference(422))
            if "requestBody" in operation:
                responses.setdefault("400", error_reference(400))
    return schema


def error_reference(status: int, description: str | None = None) -> dict[str, Any]:
    """An error response referring to `ErrorBody` in the components (see `add_error_body`)."""
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "an error"),
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="ErrorBody")}}
        },
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def add_error_body(schema: dict[str, Any]) -> None:
    """Put `ErrorBody` (and `Problem`) into the document's components unless they are there."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template=REF_TEMPLATE, mode="serialization")
    for name, definition in {**body.pop("$defs", {}), "ErrorBody": body}.items():
        schemas.setdefault(name, definition)


def query_parameters(app: FastAPI, template: str, method: str) -> frozenset[str] | None:
    """The query parameters the document gives operation `method template`; None if none is."""
    operations = app.openapi().get("paths", {}).get(template)
    operation = (operations or {}).get(method.lower())
    if operation is None:
        return None
    return frozenset(p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the documented operations on `path` accept (FastAPI adds no HEAD)."""
    methods: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        if _template_regex(template).match(path):
            methods.update(name.upper() for name in operations if name in HTTP_METHODS)
    return sorted(methods)


@lru_cache(maxsize=256)
def _template_regex(template: str) -> Any:
    regex, _, _ = compile_path(template)
    return regex
