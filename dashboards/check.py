"""Checking boards and rules against a live system: metric names, panel queries, alerts.

    exprs = every_expression(Path("dashboards"))    # [(where, PromQL)], boards and rules
    metric_names('sum(rate(http_client_request_duration_seconds_count{x="y"}[5s]))')
        # {'http_client_request_duration_seconds_count'}
    family('http_client_request_duration_seconds_bucket')   # the histogram's name
    firing(prometheus_url)                           # [{"alertname", labels...}] firing now

Used by tests/dashboards/test_live.py and benchmarks/alert_detection.py.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

# Names Prometheus makes itself, and the recording rules' namespace.
PROMETHEUS_MADE = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"}
_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "and", "or", "unless", "on",
    "ignoring", "group_left", "group_right", "bool", "offset", "rate", "irate", "increase",
    "changes", "histogram_quantile", "label_replace", "label_values", "vector", "inf", "nan",
    "topk", "bottomk", "abs", "clamp_min", "clamp_max", "time", "delta", "deriv", "e",
}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w(])")
_NUMBER_UNIT = re.compile(r"\b\d+(\.\d+)?[smhdwy]?\b")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (functions, keywords, labels removed)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = text.replace("$__rate_interval", "").replace("$service", "")
    text = _NUMBER_UNIT.sub(" ", text)
    return {name for name in _IDENT.findall(text) if name.lower() not in _KEYWORDS}


def family(name: str) -> str:
    """The metric family of a sample name (histogram and counter suffixes removed)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def board_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) of every panel target, annotation and variable of a board's JSON."""
    found = []
    for panel in board.get("panels", []):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                found.append((f"{board['title']} / {panel.get('title')}", target["expr"]))
    for annotation in (board.get("annotations") or {}).get("list", []):
        if annotation.get("expr"):
            where = f"{board['title']} / annotation {annotation['name']}"
            found.append((where, annotation["expr"]))
    return found


def rule_expressions(path: Path) -> list[tuple[str, str]]:
    """(where, expr) of every rule of a rule file."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [
        (f"{path.name} / {rule.get('alert') or rule.get('record')}", rule["expr"])
        for group in groups
        for rule in group["rules"]
    ]


def recorded_names(folder: Path) -> set[str]:
    """Names the recording rules of a folder define."""
    return {
        rule["record"]
        for path in sorted(folder.glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def every_expression(folder: Path, profile: str = "gameday") -> list[tuple[str, str]]:
    """Every PromQL expression of the boards and of one profile's rules."""
    exprs: list[tuple[str, str]] = []
    for path in sorted((folder / "json").glob("*.json")):
        exprs += board_queries(json.loads(path.read_text()))
    for path in sorted((folder / "rules" / profile).glob("*.rules.yml")):
        exprs += rule_expressions(path)
    return exprs


def exposed_families(text: str) -> set[str]:
    """Metric families of a /metrics page (from its # TYPE lines, so even before a sample)."""
    return {family(line.split()[2]) for line in text.splitlines() if line.startswith("# TYPE ")}


def api(prometheus: str, path: str, **params: Any) -> Any:
    """GET a Prometheus API path; its `data`."""
    url = f"{prometheus.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise ValueError(f"{url}: {body}")
    return body["data"]


def firing(prometheus: str) -> list[dict[str, str]]:
    """The labels of every alert firing now (alertname included)."""
    alerts = api(prometheus, "/api/v1/alerts")["alerts"]
    return [a["labels"] for a in alerts if a.get("state") == "firing"]


def concrete(expr: str, rate_interval: str = "5s") -> str:
    """A board query with Grafana's variables filled in for a direct Prometheus query."""
    return expr.replace("$__rate_interval", rate_interval).replace("$service", ".+")
