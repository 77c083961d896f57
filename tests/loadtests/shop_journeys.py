"""What the shop's journeys claim (locustfile, docstrings, docs) and what the gateway answered.

The locustfile cannot be imported here (Locust monkey-patches the interpreter with gevent on
import), so its `ROUTES` and docstrings are read from its source.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
DOCS = ROOT / "docs" / "loadtests.md"
ROUTE = re.compile(r"`((?:GET|POST|PUT|DELETE|PATCH) /[^`]*)`")


def _module() -> ast.Module:
    return ast.parse(LOCUSTFILE.read_text(), filename=str(LOCUSTFILE))


def declared_routes() -> dict[str, tuple[str, ...]]:
    """The locustfile's `ROUTES`: journey -> the gateway routes it requests."""
    for node in _module().body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["ROUTES"]:
            routes: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
            return routes
    raise AssertionError(f"{LOCUSTFILE} has no ROUTES = {{journey: (routes, ...)}}")


def docstrings() -> dict[str, str]:
    """Each method of the locustfile's `Journeys` class -> its docstring."""
    for node in _module().body:
        if isinstance(node, ast.ClassDef) and node.name == "Journeys":
            return {
                f.name: " ".join((ast.get_docstring(f) or "").split())
                for f in node.body
                if isinstance(f, ast.FunctionDef)
            }
    raise AssertionError(f"{LOCUSTFILE} has no class Journeys")


def documented_routes() -> dict[str, set[str]]:
    """The journeys table of docs/loadtests.md: journey -> the routes its row names."""
    section = DOCS.read_text().split("## The shop's locustfile", 1)[-1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z]+)` \| (.+?) \|", section, re.MULTILINE)
    return {journey: set(ROUTE.findall(cell)) for journey, cell in rows}


def answered_routes(base_url: str) -> Counter[str]:
    """Requests a service answered with a 2xx, per "METHOD /route", from its own /metrics."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    answered: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "http_server_request_duration_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_count") and labels["http_response_status_code"][0] == "2":
                route = f"{labels['http_request_method']} {labels['http_route']}"
                answered[route] += int(sample.value)
    return answered
