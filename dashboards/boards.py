"""The four Grafana boards, as code with the Grafana Foundation SDK (`grafana-foundation-sdk`).

    boards(model)   # {"service-overview": Dashboard, "dependencies": ..., "gameday": ...}

- **service overview**: RED per service and route from `http_server_request_duration_seconds`
  (rate, 5xx ratio, p50/p95/p99 with exemplars linking to the trace in Jaeger), in-flight;
- **dependencies**: per edge from `http_client_request_duration_seconds` (rate, errors by
  `error_type`, p95) and the resilience metrics (retries, budget, breaker, bulkhead,
  fallbacks, timeouts), plus the broker connections and the outbox;
- **SLOs**: per journey, the bad fraction of each SLI, burn rates on the alert windows and
  the error budget left over the SLO period (30 days; 6 hours in the game-day profile);
- **game day**: experiment phase and active faults as state timelines and annotations,
  replicas up per service, firing alerts.

Every query is a plain PromQL string; tests/dashboards/test_live.py runs each one against a
Prometheus scraping the running shop and asserts it returns data.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.models.dashboard import DataSourceRef, DataTransformerConfig

from dashboards.rules import CLIENT, SERVER, TIERS, record_name
from dashboards.slo import Journey, Model, duration

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
RATE = "$__rate_interval"
TAGS = ["gameday"]


def _query(
    expr: str, legend: str = "", *, exemplar: bool = False, ref: str = "A"
) -> prom.Dataquery:
    query = prom.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref)
    return query.exemplar(True) if exemplar else query


def _series(title: str, unit: str, *queries: prom.Dataquery, width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(PROMETHEUS).span(width).height(8)
    for index, query in enumerate(queries):
        panel = panel.with_target(query.ref_id(chr(ord("A") + index)))
    return panel


def _board(uid: str, title: str, description: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh("5s")
        .time("now-15m", "now")
        .timezone("browser")
    )


def _service_variable() -> db.QueryVariable:
    return (
        db.QueryVariable("service")
        .label("service")
        .datasource(PROMETHEUS)
        .query(f"label_values({SERVER}_count, service)")
        .multi(True)
        .include_all(True)
        .all_value(".+")
    )


def service_overview() -> db.Dashboard:
    """RED per service and route, in-flight requests, exemplars to traces."""
    sel = 'service=~"$service"'
    by = "service, http_route"
    latency = [
        _query(
            f"histogram_quantile({q}, sum by ({by}, le) (rate({SERVER}_bucket{{{sel}}}[{RATE}])))",
            f"p{int(q * 100)} {{{{service}}}} {{{{http_route}}}}",
            exemplar=True,
        )
        for q in (0.5, 0.95, 0.99)
    ]
    return (
        _board(
            "gameday-service-overview",
            "Service overview (RED)",
            "Rate, errors and duration per service and route; click an exemplar for its trace.",
        )
        .with_variable(_service_variable())
        .with_row(db.Row("Requests"))
        .with_panel(
            _series(
                "Request rate by route",
                "reqps",
                _query(f"sum by ({by}) (rate({SERVER}_count{{{sel}}}[{RATE}]))"),
            )
        )
        .with_panel(
            _series(
                "Error ratio (5xx) by route",
                "percentunit",
                _query(
                    f'sum by ({by}) (rate({SERVER}_count{{{sel}, http_response_status_code=~"5.."}}'
                    f"[{RATE}]))\n/ sum by ({by}) (rate({SERVER}_count{{{sel}}}[{RATE}]))"
                ),
            )
        )
        .with_row(db.Row("Duration"))
        .with_panel(_series("Latency p50 / p95 / p99 (exemplars: traces)", "s", *latency, width=24))
        .with_panel(
            _series(
                "Requests by status code",
                "reqps",
                _query(
                    f"sum by (service, http_response_status_code) "
                    f"(rate({SERVER}_count{{{sel}}}[{RATE}]))"
                ),
            )
        )
        .with_panel(
            _series(
                "In-flight requests",
                "short",
                _query(f"sum by (service) (http_server_active_requests{{{sel}}})", "{{service}}"),
            )
        )
    )


def dependencies(model: Model) -> db.Dashboard:
    """Per edge: rate, errors by type, latency, resilience mechanisms; the broker edges."""
    edge = "service, server_address"
    legend = "{{service}} → {{server_address}}"
    client = f"{CLIENT}_count"
    board = (
        _board(
            "gameday-dependencies",
            "Dependencies",
            "Every caller → callee edge as the caller sees it, and what its resilience code did.",
        )
        .with_row(db.Row("Calls"))
        .with_panel(
            _series(
                "Call rate", "reqps", _query(f"sum by ({edge}) (rate({client}[{RATE}]))", legend)
            )
        )
        .with_panel(
            _series(
                "Errors by error_type",
                "reqps",
                _query(
                    f'sum by ({edge}, error_type) (rate({client}{{error_type!=""}}[{RATE}]))',
                    legend + " {{error_type}}",
                ),
            )
        )
        .with_panel(
            _series(
                "Error ratio",
                "percentunit",
                _query(
                    f'sum by ({edge}) (rate({client}{{error_type!=""}}[{RATE}]))'
                    f"\n/ sum by ({edge}) (rate({client}[{RATE}]))",
                    legend,
                ),
            )
        )
        .with_panel(
            _series(
                "Latency p95 (exemplars: traces)",
                "s",
                _query(
                    f"histogram_quantile(0.95, sum by ({edge}, le) "
                    f"(rate({CLIENT}_bucket[{RATE}])))",
                    legend,
                    exemplar=True,
                ),
            )
        )
        .with_row(db.Row("Resilience"))
    )
    counters = (
        ("Retries", "resilience_retries_total", edge, legend),
        ("Retry budget exhausted", "resilience_retry_budget_exhausted_total", edge, legend),
        ("Timeouts", "resilience_timeouts_total", edge, legend),
        ("Breaker rejections", "resilience_circuit_breaker_rejections_total", edge, legend),
        ("Bulkhead rejections", "resilience_bulkhead_rejections_total", edge, legend),
        (
            "Fallbacks by reason",
            "resilience_fallbacks_total",
            f"{edge}, reason",
            legend + " {{reason}}",
        ),
        (
            "Breaker transitions",
            "resilience_circuit_breaker_transitions_total",
            f"{edge}, to_state",
            legend + " → {{to_state}}",
        ),
    )
    # A counter appears at its first event; `or` the edges that have a breaker, times zero,
    # so a quiet edge draws 0 rather than "No data".
    zero = f'(sum by ({edge}) (resilience_circuit_breaker_state{{state="closed"}}) * 0)'
    for title, metric, by, text in counters:
        expr = f"sum by ({by}) (rate({metric}[{RATE}]))\nor {zero}"
        board = board.with_panel(_series(title, "ops", _query(expr, text), width=8))
    board = board.with_panel(
        statetimeline.Panel()
        .title("Circuit breaker state (replicas open)")
        .datasource(PROMETHEUS)
        .span(16)
        .height(8)
        .with_target(
            _query(f'sum by ({edge}) (resilience_circuit_breaker_state{{state="open"}})', legend)
        )
    ).with_panel(
        _series(
            "Bulkhead in flight",
            "short",
            _query(f"sum by ({edge}) (resilience_bulkhead_in_flight)", legend),
            width=8,
        )
    )
    if any(e.broker for e in model.edges):
        board = (
            board.with_row(db.Row("Messaging"))
            .with_panel(
                _series(
                    "Broker connected (per replica)",
                    "short",
                    _query(
                        "messaging_client_connected", "{{service}}/{{replica}} → {{server_address}}"
                    ),
                    width=8,
                )
            )
            .with_panel(
                _series(
                    "Messages sent / consumed",
                    "ops",
                    _query(
                        f"sum by (service) (rate(messaging_client_sent_messages_total[{RATE}]))",
                        "{{service}} sent",
                    ),
                    _query(
                        "sum by (service) (rate(messaging_client_consumed_messages_total"
                        f"[{RATE}]))",
                        "{{service}} consumed",
                    ),
                    width=8,
                )
            )
            .with_panel(
                _series(
                    "Outbox: oldest waiting event",
                    "s",
                    _query("max by (service) (outbox_oldest_event_age_seconds)", "{{service}}"),
                    _query("sum by (service) (outbox_events_waiting)", "{{service}} waiting"),
                    width=8,
                )
            )
        )
    return board


def _journey_panels(board: db.Dashboard, journey: Journey) -> db.Dashboard:
    board = board.with_row(db.Row(f"{journey.name}"))
    for sli in journey.slis:
        labels = f'journey="{journey.name}", sli="{sli}"'
        budget = journey.budget(sli)
        period = record_name("error", 30 * 86400)
        board = board.with_panel(
            stat.Panel()
            .title(f"{journey.name} {sli}: budget left ({journey.objective(sli):.4g} SLO)")
            .datasource(PROMETHEUS)
            .unit("percentunit")
            .span(6)
            .height(6)
            .with_target(_query(f"1 - ({period}{{{labels}}} / {budget:.6g})"))
        )
        burns = [
            _query(
                f"{record_name('error', window)}{{{labels}}} / {budget:.6g}",
                f"burn rate over {duration(window)}",
            )
            for window in sorted({t.long_s for t in TIERS} | {t.short_s for t in TIERS})
        ]
        board = board.with_panel(
            _series(
                f"{journey.name} {sli}: burn rate (1 = spending exactly the budget)",
                "x",
                *burns,
                width=18,
            )
        )
    return board


def slos(model: Model) -> db.Dashboard:
    """Per journey and SLI: budget left over the SLO period, burn rates on every window."""
    board = _board(
        "gameday-slos",
        "Journey SLOs",
        "Error budgets and burn rates per journey (windows are production names; the game-day "
        "profile scales them down 120x).",
    ).with_panel(
        table.Panel()
        .title("SLO alerts firing")
        .datasource(PROMETHEUS)
        .span(24)
        .height(5)
        .with_target(_query('ALERTS{alertstate="firing", alertname=~"Journey.*"}').instant())
        .with_transformation(DataTransformerConfig(id_val="labelsToFields", options={}))
    )
    for journey in model.journeys:
        board = _journey_panels(board, journey)
    return board


def gameday(model: Model) -> db.Dashboard:
    """Experiment phases and active faults, replicas per service, alerts firing."""
    services = "|".join(model.services)
    return (
        _board(
            "gameday-game-day",
            "Game day",
            "What the experiment does (phase, faults) beside what the system shows "
            "(replicas, alerts).",
        )
        .annotation(
            db.AnnotationQuery()
            .name("Faults")
            .datasource(PROMETHEUS)
            .enable(True)
            .icon_color("red")
            .expr("gameday_fault_active > 0")
        )
        .annotation(
            db.AnnotationQuery()
            .name("Phases")
            .datasource(PROMETHEUS)
            .enable(True)
            .icon_color("blue")
            .expr("changes(gameday_experiment_phase[10s]) > 0 and gameday_experiment_phase == 1")
        )
        .with_panel(
            statetimeline.Panel()
            .title("Experiment phase")
            .datasource(PROMETHEUS)
            .span(12)
            .height(6)
            .with_target(_query("gameday_experiment_phase == 1", "{{experiment}}: {{phase}}"))
        )
        .with_panel(
            statetimeline.Panel()
            .title("Active faults")
            .datasource(PROMETHEUS)
            .span(12)
            .height(6)
            .with_target(_query("gameday_fault_active", "{{kind}} on {{target}}"))
        )
        .with_panel(
            _series(
                "Replicas up per service",
                "short",
                _query(f'sum by (service) (up{{service=~"{services}"}})', "{{service}}"),
            )
        )
        .with_panel(
            _series(
                "Alerts firing",
                "short",
                _query('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}"),
            )
        )
    )


def boards(model: Model) -> dict[str, db.Dashboard]:
    """Every board by file name."""
    return {
        "service-overview": service_overview(),
        "dependencies": dependencies(model),
        "slos": slos(model),
        "gameday": gameday(model),
    }
