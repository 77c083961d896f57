"""The alerts that fired during each phase of a run, read back from Prometheus.

    alerts = alerts_by_phase("http://127.0.0.1:9090", {"baseline": (t0, t1), "fault": ...})
    alerts["fault"]   # [{"alertname": "CircuitBreakerOpen", "labels": {...},
                      #   "first_firing_s": 3.0}, ...]  seconds after the phase began

Read from the `ALERTS{alertstate="firing"}` series Prometheus keeps for its alerting rules,
at one-second resolution. The journal keeps the result under `alerts`; summary.md lists it.
An unreachable Prometheus gives no alerts and a logged warning: it never fails a run.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

QUERY = 'ALERTS{alertstate="firing"}'
_DROP = {"__name__", "alertname", "alertstate"}


def firing_in(result: list[dict[str, Any]], start: float) -> list[dict[str, Any]]:
    """Pure: a query_range matrix of ALERTS -> one entry per alert, first firing first."""
    seen = []
    for series in result:
        metric = series["metric"]
        times = [float(t) for t, value in series["values"] if value == "1"]
        if not times:
            continue
        labels = {k: v for k, v in sorted(metric.items()) if k not in _DROP}
        seen.append(
            {
                "alertname": metric.get("alertname", ""),
                "labels": labels,
                "first_firing_s": round(max(0.0, min(times) - start), 1),
            }
        )
    return sorted(seen, key=lambda a: (a["first_firing_s"], a["alertname"], str(a["labels"])))


def query_range(prometheus: str, query: str, start: float, end: float, step: float = 1.0) -> Any:
    """GET /api/v1/query_range; the `data.result` list."""
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    url = f"{prometheus.rstrip('/')}/api/v1/query_range?{params}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise ValueError(f"{url}: {body.get('error', body)}")
    return body["data"]["result"]


def alerts_by_phase(
    prometheus: str, windows: Mapping[str, tuple[float, float]]
) -> dict[str, list[dict[str, Any]]]:
    """The alerts firing at some point of each phase (`windows`: name -> (start, end))."""
    alerts: dict[str, list[dict[str, Any]]] = {}
    for name, (start, end) in windows.items():
        try:
            alerts[name] = firing_in(query_range(prometheus, QUERY, start, end), start)
        except (OSError, ValueError) as exc:
            logger.warning("no alerts of phase %s from %s: %s", name, prometheus, exc)
            alerts[name] = []
    return alerts


def summary_lines(alerts: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    """Markdown lines for summary.md: per phase, the alerts with their labels."""
    lines = ["", "## Alerts (runtime Prometheus)", ""]
    for phase, fired in alerts.items():
        if not fired:
            lines.append(f"- {phase}: none")
            continue
        names = [
            f"{a['alertname']}{{{', '.join(f'{k}={v}' for k, v in a['labels'].items())}}} "
            f"after {a['first_firing_s']:g}s"
            for a in fired
        ]
        lines.append(f"- {phase}: " + "; ".join(names))
    return lines
