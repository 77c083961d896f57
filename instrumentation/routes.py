"""The server span's name and `http.route`, found before routing as the FastAPI instrumentor does.

opentelemetry-instrumentation-fastapi names a server span after the first route that matches
the request (`_get_default_span_details`): per request it flattens the app's routes, wraps
each one, and runs every route's full `matches()` (which also converts path parameters and
builds a child scope). `RouteTable` gives the same answer with less work: the flattened
routes are kept until the app's routes change, and a plain `Route`/`APIRoute` (nearly every
route of a service) is matched by its own regex and methods alone, which is all its
`matches()` decides on. Any other kind of route (mounts, hosts, included routers, websocket
routes) still runs its own `matches()`. tests/instrumentation/test_server_spans.py compares
both on a table of requests.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry.util.http import sanitize_method
from starlette.routing import Match, Route
from starlette.types import Scope


def _flatten_routes(routes: Any) -> Iterator[Any]:
    """The routes as the instrumentor matches them: flattened through included routers
    (FastAPI >= 0.137) by its own helper, or as they are where it has none."""
    from opentelemetry.instrumentation import fastapi as instrumentor

    flatten = getattr(instrumentor, "_flatten_routes", None)
    return iter(flatten(routes) if flatten is not None else routes)


try:
    from fastapi.routing import APIRoute

    _PLAIN_ROUTES: tuple[type, ...] = (Route, APIRoute)
except ImportError:  # a Starlette-only install
    _PLAIN_ROUTES = (Route,)


def _plain(route: Any) -> Route | None:
    """The route whose regex and methods alone decide a match, or None."""
    inner = route
    if type(route).__name__ == "RouteContext":  # FastAPI >= 0.137 wraps every route
        if getattr(route, "_route_context", None) is not None:
            return None  # from an included router: its context decides
        inner = route.route
    return inner if type(inner) in _PLAIN_ROUTES else None


class _Entry:
    __slots__ = ("methods", "path", "plain", "regex", "route")

    def __init__(self, route: Any) -> None:
        self.route = route
        plain = _plain(route)
        self.plain = plain is not None
        self.regex = plain.path_regex if plain is not None else None
        self.methods = plain.methods if plain is not None else None
        self.path = plain.path if plain is not None else None


def _route_path(scope: Scope) -> str:
    # starlette._utils.get_route_path: the path below the root path the app is mounted at.
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


class _Table:
    """An app's flattened routes, and what tells that its routes changed since."""

    __slots__ = ("entries", "length", "nested", "own_version", "routes", "tree_version")

    def __init__(self, app: Any) -> None:
        self.routes = app.routes
        self.length = len(self.routes)
        router = getattr(app, "router", None)
        self.own_version = getattr(router, "_routes_version", 0)
        # Included routers (FastAPI >= 0.137) change on their own: only then is the whole
        # tree's version worth computing on every request.
        self.nested = any(hasattr(r, "original_router") for r in self.routes)
        self.tree_version = _tree_version(router) if self.nested else 0
        self.entries = [_Entry(r) for r in _flatten_routes(self.routes)]

    def current(self, app: Any) -> bool:
        routes = app.routes
        if routes is not self.routes or len(routes) != self.length:
            return False
        router = getattr(app, "router", None)
        if getattr(router, "_routes_version", 0) != self.own_version:
            return False
        return not self.nested or _tree_version(router) == self.tree_version


def _tree_version(router: Any) -> int:
    version = getattr(router, "_get_routes_version", None)
    return version() if version is not None else 0


class RouteTable:
    """Per app: the flattened routes, rebuilt when the app's routes change."""

    def __init__(self) -> None:
        self._tables: weakref.WeakKeyDictionary[Any, _Table] = weakref.WeakKeyDictionary()

    def _entries(self, app: Any) -> list[_Entry]:
        table = self._tables.get(app)
        if table is None or not table.current(app):
            table = self._tables[app] = _Table(app)
        return table.entries

    def route(self, scope: Scope) -> str | None:
        """The template of the first route matching `scope` fully, else of the last partial."""
        route_path = _route_path(scope)
        method = scope.get("method")
        found: str | None = None
        for entry in self._entries(scope["app"]):
            if entry.plain:
                if entry.regex.match(route_path) is None:  # type: ignore[union-attr]
                    continue
                if not entry.methods or method in entry.methods:
                    return entry.path
                found = entry.path
                continue
            route = entry.route
            # Exactly the instrumentor's call: a Route subclass is matched as a plain Route.
            if isinstance(route, Route):
                match, _ = Route.matches(route, scope)
            else:
                match, _ = route.matches(scope)
            if match == Match.FULL:
                try:
                    return route.path  # type: ignore[no-any-return]
                except AttributeError:
                    return scope.get("path")
            if match == Match.PARTIAL:
                found = route.path
        return found

    def span_details(
        self, scope: Scope, sanitize: Callable[[str], str] = sanitize_method
    ) -> tuple[str, str | None]:
        """(span name, http.route) exactly as the FastAPI instrumentor computes them."""
        route = self.route(scope)
        method = sanitize(scope.get("method", "").strip())
        if method == "_OTHER":
            method = "HTTP"
        if method and route:
            return f"{method} {route}", route
        if route:
            return route, route
        return method, None

