"""The alerts that fired during each phase of a run, read back from Prometheus.

    alerts = alerts_by_phase("http://127.0.0.1:9090", {"baseline": (t0, t1), "fault": ...},
                             expected)          # an isolation.Expectation, or None
    alerts["fault"]   # [{"alertname": "CircuitBreakerOpen", "labels": {...},
                      #   "first_firing_s": 3.0, "firing_at_start": False,
                      #   "resolved_s": None, "relation": "names the fault"}, ...]
    isolation(alerts, expected)   # {"fault": "payments down", "isolated": True, ...}

Read from the `ALERTS{alertstate="firing"}` series Prometheus keeps for its alerting rules,
at one-second resolution, from one second before each phase (`firing_at_start`: the alert
was already firing when the phase began; `first_firing_s` is then 0). `resolved_s`: seconds
after the phase began when it stopped firing, None if it still fired at the end (in the
recovery phase: how long the alert outlived the fault). During the fault and
the recovery each alert also carries its `relation` to the experiment's faults
(chaos.experiment.isolation). The journal keeps the result under `alerts` and the fault
phase's verdict under `alert_isolation`; summary.md lists both. An unreachable Prometheus
gives no alerts and a logged warning: it never fails a run.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from chaos.experiment.isolation import Expectation, describe, judge

logger = logging.getLogger(__name__)

QUERY = 'ALERTS{alertstate="firing"}'
STEP_S = 1.0
_DROP = {"__name__", "alertname", "alertstate"}
JUDGED = ("fault", "recovery")  # the phases whose alerts relate to the faults


def firing_in(
    result: list[dict[str, Any]], start: float, end: float, expected: Expectation | None = None
) -> list[dict[str, Any]]:
    """Pure: a query_range matrix of ALERTS (`start` - 1 step to `end`) -> one per alert."""
    last_step = start - STEP_S + STEP_S * ((end - start + STEP_S) // STEP_S)
    seen = []
    for series in result:
        metric = series["metric"]
        times = [float(t) for t, value in series["values"] if value == "1"]
        if not times:
            continue
        labels = {k: v for k, v in sorted(metric.items()) if k not in _DROP}
        entry: dict[str, Any] = {
            "alertname": metric.get("alertname", ""),
            "labels": labels,
            "first_firing_s": round(max(0.0, min(times) - start), 1),
            "firing_at_start": min(times) < start,
            "resolved_s": None
            if max(times) > last_step - STEP_S / 2  # Prometheus rounds times to ms
            else round(max(times) + STEP_S - start, 1),
        }
        if expected is not None:
            entry["relation"] = expected.relation({"alertname": entry["alertname"], **labels})
        seen.append(entry)
    return sorted(seen, key=lambda a: (a["first_firing_s"], a["alertname"], str(a["labels"])))


def query_range(prometheus: str, query: str, start: float, end: float, step: float = STEP_S) -> Any:
    """GET /api/v1/query_range; the `data.result` list."""
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    url = f"{prometheus.rstrip('/')}/api/v1/query_range?{params}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise ValueError(f"{url}: {body.get('error', body)}")
    return body["data"]["result"]


def alerts_by_phase(
    prometheus: str,
    windows: Mapping[str, tuple[float, float]],
    expected: Expectation | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The alerts firing at some point of each phase (`windows`: name -> (start, end))."""
    alerts: dict[str, list[dict[str, Any]]] = {}
    for name, (start, end) in windows.items():
        relate = expected if name in JUDGED else None
        try:
            result = query_range(prometheus, QUERY, start - STEP_S, end)
            alerts[name] = firing_in(result, start, end, relate)
        except (OSError, ValueError) as exc:
            logger.warning("no alerts of phase %s from %s: %s", name, prometheus, exc)
            alerts[name] = []
    return alerts


def _labelled(alert: Mapping[str, Any]) -> dict[str, str]:
    return {"alertname": alert["alertname"], **alert["labels"]}


def isolation(alerts: Mapping[str, list[dict[str, Any]]], expected: Expectation) -> dict[str, Any]:
    """Did the alerts that started firing during the fault point at it, and only there?"""
    new = [_labelled(a) for a in alerts.get("fault", []) if not a["firing_at_start"]]
    verdict = judge(new, expected)
    return {
        "fault": expected.fault,
        "isolated": verdict.isolated,
        "named": [describe(a) for a in verdict.by_relation.get("names the fault", ())],
        "unexpected": [describe(a) for a in verdict.unexpected],
    }


def summary_lines(
    alerts: Mapping[str, list[dict[str, Any]]], verdict: Mapping[str, Any] | None = None
) -> list[str]:
    """Markdown lines for summary.md: per phase, the alerts; then the isolation verdict."""
    lines = ["", "## Alerts (runtime Prometheus)", ""]
    for phase, fired in alerts.items():
        if not fired:
            lines.append(f"- {phase}: none")
            continue
        names = []
        for a in fired:
            when = (
                "firing as it began" if a["firing_at_start"] else f"after {a['first_firing_s']:g}s"
            )
            if a.get("resolved_s") is not None:
                when += f", resolved after {a['resolved_s']:g}s"
            relation = f", {a['relation']}" if "relation" in a else ""
            names.append(f"{describe(_labelled(a))} {when}{relation}")
        lines.append(f"- {phase}: " + "; ".join(names))
    if verdict is not None:
        if verdict["isolated"]:
            lines += ["", f"Isolated: the alerts point at {verdict['fault']} and nothing else."]
        else:
            why = [] if verdict["named"] else [f"no alert names {verdict['fault']}"]
            if verdict["unexpected"]:
                why.append(f"{', '.join(verdict['unexpected'])} point elsewhere")
            lines += ["", f"**Not isolated**: {'; '.join(why)}."]
    return lines
