"""W3C trace context on the load's requests, so each request's trace can be found later.

With `--gameday-trace-ratio R` (GAMEDAY_TRACE_RATIO), every request sent through Locust's
`HttpSession` (HttpUser, OpenModelHttpUser) carries a `traceparent` header that the load
generator made up itself: a fraction R of them with the *sampled* flag, the rest without.
The services under test continue that trace (the default parent-based sampler obeys the
flag), so:

- a sampled request's trace id is known to the load and recorded with its sample
  (`context["trace_id"]`, then `Sample.traces`): the report names the traces of the slowest
  requests, and the fault-isolation matrix reads from the spans which services each journey
  really reaches (its call graph);
- the unsampled ones stop the services from starting traces of their own, so tracing costs
  the system under test exactly the ratio asked for.

A request that already has a `traceparent` header is left alone. Without the option nothing
is changed. Imports Locust: load processes only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from locust.clients import HttpSession

TRACEPARENT = "traceparent"
_ORIGINAL = "_gameday_original_request"


def traceparent(rng: random.Random, *, sampled: bool) -> tuple[str, str]:
    """A new W3C `traceparent` value and its trace id (32 hex digits, never all zero)."""
    trace_id = f"{rng.getrandbits(128) or 1:032x}"
    span_id = f"{rng.getrandbits(64) or 1:016x}"
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}", trace_id


def install(ratio: float, rng: random.Random | None = None) -> None:
    """Make every HttpSession request carry a made-up trace context, `ratio` of them sampled."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"trace ratio must be between 0 and 1, got {ratio}")
    uninstall()
    original: Callable[..., Any] = HttpSession.request
    draw = rng or random.Random()

    def request(
        self: HttpSession,
        method: str | bytes,
        url: str | bytes,
        name: str | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        context = dict(context or {})
        if not any(key.lower() == TRACEPARENT for key in headers):
            sampled = draw.random() < ratio
            headers[TRACEPARENT], trace_id = traceparent(draw, sampled=sampled)
            if sampled:
                context["trace_id"] = trace_id
        return original(self, method, url, name, catch_response, context, headers=headers, **kwargs)

    setattr(HttpSession, _ORIGINAL, original)
    HttpSession.request = request  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo `install` (harmless when it was not installed)."""
    original = HttpSession.__dict__.get(_ORIGINAL)
    if original is not None:
        HttpSession.request = original  # type: ignore[method-assign]
        delattr(HttpSession, _ORIGINAL)
