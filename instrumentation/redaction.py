"""What must never leave a service in telemetry: credentials in headers, URLs and queries.

Pure functions, used by the span hooks, the log formatter and the client metrics.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

# Header names whose values are credentials (compared lower-case).
SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

# A query parameter whose name contains one of these words is treated as a secret.
_SECRET_PARAM = re.compile(
    r"(pass|pwd|secret|token|key|auth|sig|session|credential|jwt|bearer|code)", re.IGNORECASE
)


def is_secret_param(name: str) -> bool:
    """True when a query parameter's name looks like it carries a secret."""
    return _SECRET_PARAM.search(name) is not None


def redact_query(query: str) -> str:
    """Replace the values of secret-looking parameters in a raw query string."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_param(name) for name, _ in pairs):
        return query
    return urlencode(
        [(name, REDACTED if is_secret_param(name) else value) for name, value in pairs],
        safe="",
    )


def redact_target(target: str) -> str:
    """Redact a request target such as `/path?token=abc` (path kept, secret values replaced)."""
    path, sep, query = target.partition("?")
    return path + sep + redact_query(query) if sep else target


def redact_url(url: str) -> str:
    """Redact user:password in the authority and secret-looking query parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}:{REDACTED}@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), parts.fragment))
