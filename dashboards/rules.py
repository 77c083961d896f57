"""Prometheus recording rules and alerts, generated from the model for one profile. Pure.

    groups = slo_rules(model, GAMEDAY)      # {"groups": [...]}: SLIs and burn-rate alerts
    groups = cause_rules(model, GAMEDAY)    # per edge: errors, latency, breaker; replicas

SLO alerts are the SRE workbook's multiwindow, multi-burn-rate alerts (as Sloth and Pyrra
generate them): each severity ORs two (long window, short window, burn rate) tiers, the
short window letting the alert reset soon after the burn stops.

| severity | long | short | burn rate | budget spent when it fires |
|---|---|---|---|---|
| page   | 1h | 5m  | 14.4 | 2 % of 30 days in 1 hour |
| page   | 6h | 30m | 6    | 5 % in 6 hours |
| ticket | 1d | 2h  | 3    | 10 % in 1 day |
| ticket | 3d | 6h  | 1    | 10 % in 3 days |

Recording rules are named after the *production* window (`journey:sli_error:ratio_rate1h`),
so dashboards and alerts read the same in every profile; the game-day profile computes them
over scaled windows (`_rate1h` over 30 s, see `slo.Profile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards.slo import Edge, Journey, Model, Profile, duration

SERVER = "http_server_request_duration_seconds"
CLIENT = "http_client_request_duration_seconds"
SLO_PERIOD_S = 30 * 86400


@dataclass(frozen=True)
class Tier:
    """One (long window, short window, burn rate) pair of a multiwindow alert."""

    severity: str
    long_s: int
    short_s: int
    burn: float


TIERS = (
    Tier("page", 3600, 300, 14.4),
    Tier("page", 6 * 3600, 1800, 6.0),
    Tier("ticket", 86400, 7200, 3.0),
    Tier("ticket", 3 * 86400, 6 * 3600, 1.0),
)
# Every window a recording rule exists for (production seconds); the SLO period is last.
SLI_WINDOWS = (*sorted({s for t in TIERS for s in (t.long_s, t.short_s)}), SLO_PERIOD_S)

# Cause alerts: production window and `for:`, scaled like everything else.
EDGE_WINDOW_S = 300
EDGE_ERROR_RATIO = 0.05
EDGE_FOR_S = 120
BREAKER_FOR_S = 60
DOWN_FOR_S = 60
OUTBOX_AGE_S = 600  # production: events waiting 10 minutes means the broker is gone


def record_name(kind: str, window_s: int) -> str:
    """`journey:sli_error:ratio_rate1h` — named after the production window."""
    return f"journey:sli_{kind}:ratio_rate{duration(window_s)}"


def _sum_over_routes(journey: Journey, metric: str, extra: str, window: str) -> str:
    # One selector per (method, route); `or` unions them (their label sets differ by route).
    parts = [
        f"rate({metric}{{{r.selector(journey.service)}{extra}}}[{window}])" for r in journey.routes
    ]
    return f"sum({' or '.join(parts)})"


def sli_expr(journey: Journey, sli: str, window: str) -> str:
    """The fraction of bad requests of one SLI over `window`."""
    total = _sum_over_routes(journey, f"{SERVER}_count", "", window)
    if sli == "availability":
        bad = _sum_over_routes(
            journey, f"{SERVER}_count", ', http_response_status_code=~"5.."', window
        )
        # A route that never failed has no 5xx series at all: count that as zero errors.
        return f"(\n{bad}\nor vector(0)\n)\n/\n{total}"
    good = _sum_over_routes(
        journey, f"{SERVER}_bucket", f', le="{journey.latency_threshold}"', window
    )
    return f"1 - (\n{good}\n/\n{total}\n)"


def _labels(journey: Journey, sli: str) -> dict[str, str]:
    return {"journey": journey.name, "sli": sli}


def _selector(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def burn_alert(journey: Journey, sli: str, severity: str) -> dict[str, Any]:
    """The alert of one severity for one SLI: its two tiers ORed."""
    labels = _labels(journey, sli)
    budget = journey.budget(sli)
    clauses = []
    for tier in (t for t in TIERS if t.severity == severity):
        limit = f"({tier.burn} * {budget:.6g})"
        clauses.append(
            f"(\n  {record_name('error', tier.long_s)}{_selector(labels)} > {limit}\n"
            f"  and\n  {record_name('error', tier.short_s)}{_selector(labels)} > {limit}\n)"
        )
    what = (
        "errors" if sli == "availability" else f"requests slower than {journey.latency_threshold}s"
    )
    return {
        "alert": "JourneyErrorBudgetBurn" if sli == "availability" else "JourneyLatencyBudgetBurn",
        "expr": "\nor\n".join(clauses),
        "labels": {"severity": severity, **labels},
        "annotations": {
            "summary": f"{journey.name}: {sli} error budget burning ({severity})",
            "description": (
                f"{journey.name} ({journey.objective(sli):.4g} {sli} SLO) serves {what} fast "
                "enough to spend its error budget early; see its SLO board."
            ),
        },
    }


def slo_rules(model: Model, profile: Profile) -> dict[str, Any]:
    """Recording rules of every journey's SLIs, and their burn-rate alerts."""
    records = [
        {
            "record": record_name("error", window_s),
            "expr": sli_expr(journey, sli, profile.window(window_s)),
            "labels": _labels(journey, sli),
        }
        for journey in model.journeys
        for sli in journey.slis
        for window_s in SLI_WINDOWS
    ]
    alerts = [
        burn_alert(journey, sli, severity)
        for journey in model.journeys
        for sli in journey.slis
        for severity in ("page", "ticket")
    ]
    # One group: its rules run in order, so the alerts read this round's SLIs.
    return {"groups": [{"name": "journey-slos", "rules": records + alerts}]}


def _edge_labels(edge: Edge) -> dict[str, str]:
    return {"caller": edge.caller, "callee": edge.callee}


def _edge_selector(edge: Edge) -> str:
    return f'service="{edge.caller}", server_address="{edge.callee}"'


def edge_alerts(edge: Edge, profile: Profile) -> list[dict[str, Any]]:
    """Cause alerts of one edge, labelled with its caller and callee."""
    labels = {"severity": "warning", **_edge_labels(edge)}
    where = f"{edge.caller} -> {edge.callee}"
    if edge.broker:
        return [
            {
                "alert": "BrokerDisconnected",
                "expr": f"min(messaging_client_connected{{{_edge_selector(edge)}}}) == 0",
                "for": profile.hold(DOWN_FOR_S),
                "labels": labels,
                "annotations": {"summary": f"{where}: not connected to the broker"},
            }
        ]
    window = profile.window(EDGE_WINDOW_S)
    sel = _edge_selector(edge)
    requests = f"sum(rate({CLIENT}_count{{{sel}}}[{window}]))"
    errors = f'sum(rate({CLIENT}_count{{{sel}, error_type!=""}}[{window}]))'
    p95 = f"histogram_quantile(0.95, sum by (le) (rate({CLIENT}_bucket{{{sel}}}[{window}])))"
    return [
        {
            "alert": "DependencyErrorRatioHigh",
            "expr": f"{errors}\n/\n{requests}\n> {EDGE_ERROR_RATIO}",
            "for": profile.hold(EDGE_FOR_S),
            "labels": labels,
            "annotations": {
                "summary": f"{where}: more than {EDGE_ERROR_RATIO:.0%} of calls fail",
                "description": "by error_type on the dependencies board",
            },
        },
        {
            "alert": "DependencyLatencyHigh",
            "expr": f"{p95}\n> {edge.latency_threshold}",
            "for": profile.hold(EDGE_FOR_S),
            "labels": labels,
            "annotations": {"summary": f"{where}: p95 latency above {edge.latency_threshold}s"},
        },
        {
            "alert": "CircuitBreakerOpen",
            "expr": f'max(resilience_circuit_breaker_state{{{sel}, state="open"}}) > 0',
            "for": profile.hold(BREAKER_FOR_S),
            "labels": labels,
            "annotations": {"summary": f"{where}: circuit breaker open"},
        },
    ]


def cause_rules(model: Model, profile: Profile) -> dict[str, Any]:
    """Per-edge cause alerts, replicas down, and stalled outboxes."""
    services = "|".join(model.services)
    rules: list[dict[str, Any]] = []
    for edge in model.edges:
        rules.extend(edge_alerts(edge, profile))
    rules.append(
        {
            "alert": "ReplicaDown",
            "expr": f'up{{service=~"{services}"}} == 0',
            "for": profile.hold(DOWN_FOR_S),
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.service }} replica {{ $labels.replica }} is down"
            },
        }
    )
    for service in model.outbox:
        rules.append(
            {
                "alert": "OutboxStalled",
                "expr": f'max(outbox_oldest_event_age_seconds{{service="{service}"}}) '
                f"> {OUTBOX_AGE_S / profile.speedup:g}",
                "labels": {"severity": "warning", "service": service},
                "annotations": {
                    "summary": f"{service}: events wait in the outbox longer than "
                    f"{duration(OUTBOX_AGE_S / profile.speedup)}"
                },
            }
        )
    return {"groups": [{"name": "causes", "rules": rules}]}
