"""The errors the embedded Toxiproxy API answers with, worded as Toxiproxy v2.12.0 words them.

ProxyError (chaos.errors)
├── ApiError            one API answer: a status and the message of `{"error":..,"status":..}`
└── ServerStartFailed   the API address is refused (non-loopback) or cannot be bound
"""

from __future__ import annotations

from chaos.errors import ProxyError


class ApiError(ProxyError):
    """An API request failed; `status` is the HTTP status, `message` the `error` field."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, object]:
        """The body Toxiproxy sends: `{"error": message, "status": status}`."""
        return {"error": self.message, "status": self.status}

    def __repr__(self) -> str:
        return f"ApiError({self.message!r}, {self.status})"


def bad_request_body(detail: str) -> ApiError:
    """400 `bad request body: <detail>` (undecodable JSON, wrong types, invalid attributes)."""
    return ApiError(f"bad request body: {detail}", 400)


def missing_field(field: str) -> ApiError:
    """400 `missing required field: <field>` (field may end with ` at proxy N`)."""
    return ApiError(f"missing required field: {field}", 400)


def proxy_not_found() -> ApiError:
    """404 `proxy not found`."""
    return ApiError("proxy not found", 404)


def proxy_exists() -> ApiError:
    """409 `proxy already exists`."""
    return ApiError("proxy already exists", 409)


def invalid_stream() -> ApiError:
    """400 for a stream other than upstream or downstream."""
    return ApiError("stream was invalid, can be either upstream or downstream", 400)


def invalid_toxic_type() -> ApiError:
    """400 `invalid toxic type`."""
    return ApiError("invalid toxic type", 400)


def toxic_exists() -> ApiError:
    """409 `toxic already exists` (names are unique across both streams)."""
    return ApiError("toxic already exists", 409)


def toxic_not_found() -> ApiError:
    """404 `toxic not found`."""
    return ApiError("toxic not found", 404)


def server_error(message: str) -> ApiError:
    """500 carrying an OS error text such as `listen tcp 127.0.0.1:80: bind: ...`."""
    return ApiError(message, 500)


class ServerStartFailed(ProxyError):
    """The server cannot start: its address is refused (non-loopback) or cannot be bound."""
