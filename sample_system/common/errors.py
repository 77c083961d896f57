"""The exception tree of the sample shop.

ShopError
├── ConfigError              an environment variable is missing or malformed
├── ApiError                 an answer to send to our own caller (status, code, message, fix)
└── DependencyError          a call to another service did not give a usable answer
    ├── DependencyUnavailable    no answer: timeout, connection failure, 5xx, breaker open,
    │                            bulkhead full (with `reason` and `maybe_processed`)
    └── DependencyRejected       the dependency answered 4xx: the request itself was refused
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

UnavailableReason = Literal["error", "timeout", "circuit_open", "bulkhead_full", "budget_exhausted"]


class ShopError(Exception):
    """Root of every error the sample shop raises on purpose."""


class ConfigError(ShopError):
    """A setting from the environment is missing or wrong; the message names it and the fix."""


class ApiError(ShopError):
    """An error answer for our caller: HTTP status, a stable code, what is wrong and the fix."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fix: str,
        *,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fix = fix
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"error": code, "message": ..., "fix": ..., **details}`."""
        return {"error": self.code, "message": self.message, "fix": self.fix, **self.details}


class DependencyError(ShopError):
    """A call to the dependency `dependency` failed."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency


class DependencyUnavailable(DependencyError):
    """The dependency gave no usable answer.

    `maybe_processed` is False only when no attempt can have reached the dependency (breaker
    open, bulkhead full, connection refused): a non-idempotent caller may then treat the
    operation as not done. Otherwise the outcome is unknown and must not be guessed.
    """

    def __init__(
        self, dependency: str, reason: UnavailableReason, detail: str, *, maybe_processed: bool
    ) -> None:
        super().__init__(dependency, f"{dependency} unavailable ({reason}): {detail}")
        self.reason: UnavailableReason = reason
        self.detail = detail
        self.maybe_processed = maybe_processed

    def api_error(self) -> ApiError:
        """This failure as a 503 for our own caller, naming the dependency."""
        return ApiError(
            503,
            "dependency_unavailable",
            f"{self.dependency} is unavailable ({self.reason})",
            "retry later; the request was not completed",
            headers={"Retry-After": "1"},
            dependency=self.dependency,
        )


class DependencyRejected(DependencyError):
    """The dependency answered with a 4xx status: retrying the same request will not help."""

    def __init__(self, dependency: str, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = {"message": response.text[:200]}
        code = self.body.get("error", "") if isinstance(self.body, dict) else ""
        self.code: str = code if isinstance(code, str) else ""
        super().__init__(dependency, f"{dependency} answered {self.status}: {self.body}")
