"""promtool unit tests of the rules, generated for each profile. Pure.

    promtool test rules dashboards/rules/gameday/tests.yml

Synthetic series stand in for the shop's (same names and labels); every alert is checked
firing and not firing:

- `quiet`: every journey spends half its error budget, every edge is healthy: no alert at all
  (after the longest window, so every tier has seen it);
- `<journey> burns`: one journey fails and is slow: its page and ticket alerts fire, and no
  other journey's;
- `burst is over`: every journey failed for a while and then recovered: the page alerts reset
  (their short windows are clean again) while the ticket alerts still fire — the point of the
  multiwindow design;
- `causes`: one edge fails, another is slow, a breaker opens, a broker connection drops, a
  replica is down and the outbox stalls: each alert fires for exactly the faulted edge or
  service, none for the healthy ones.
"""

from __future__ import annotations

from typing import Any

from dashboards.slo import Journey, Model, Profile, duration

RATE = 10  # requests per scrape on every series that takes traffic
SLO_ALERTS = ("JourneyErrorBudgetBurn", "JourneyLatencyBudgetBurn")
CAUSE_ALERTS = (
    "DependencyErrorRatioHigh",
    "DependencyLatencyHigh",
    "CircuitBreakerOpen",
    "BrokerDisconnected",
    "ReplicaDown",
    "OutboxStalled",
)


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def _counter(per_step: float, steps: int) -> str:
    return f"0+{per_step:g}x{steps}"


class _Case:
    """Series of one test over `steps` scrapes."""

    def __init__(self, model: Model, steps: int) -> None:
        self.model = model
        self.steps = steps
        self.series: list[dict[str, str]] = []

    def journey(
        self, journey: Journey, *, bad: float, slow: bool, burst_then_clean: int = 0
    ) -> None:
        """Traffic on every route; `bad` of it 5xx; all slow or all fast."""
        per_route = RATE
        for route in journey.routes:
            base = {
                "service": journey.service,
                "http_request_method": route.method,
                "http_route": route.route,
            }
            errors = per_route * bad
            if burst_then_clean:
                # bad for the first steps, then none (the counter stays where it got)
                ok = per_route - errors
                end, rest = burst_then_clean, self.steps - burst_then_clean
                good_vals = f"0+{ok:g}x{end} {ok * end + per_route:g}+{per_route:g}x{rest}"
                bad_vals = f"0+{errors:g}x{end} {errors * end:g}x{rest}"
            else:
                good_vals = _counter(per_route - errors, self.steps)
                bad_vals = _counter(errors, self.steps)
            name = "http_server_request_duration_seconds"
            self.series.append(
                _series(f"{name}_count", {**base, "http_response_status_code": "200"}, good_vals)
            )
            self.series.append(
                _series(f"{name}_count", {**base, "http_response_status_code": "503"}, bad_vals)
            )
            if journey.latency_threshold is not None:
                fast = _counter(0 if slow else per_route, self.steps)
                le = {"le": str(journey.latency_threshold)}
                self.series.append(
                    _series(
                        f"{name}_bucket", {**base, "http_response_status_code": "200", **le}, fast
                    )
                )
                self.series.append(
                    _series(
                        f"{name}_bucket",
                        {**base, "http_response_status_code": "503", **le},
                        _counter(0, self.steps),
                    )
                )

    def edges(
        self,
        *,
        failing: tuple[str, str] | None = None,
        slow: tuple[str, str] | None = None,
        open_breaker: tuple[str, str] | None = None,
        disconnected: tuple[str, str] | None = None,
    ) -> None:
        """Every edge's client metrics; the named edges misbehave."""
        name = "http_client_request_duration_seconds"
        for edge in self.model.edges:
            pair = (edge.caller, edge.callee)
            base = {"service": edge.caller, "server_address": edge.callee}
            if edge.broker:
                connected = "0" if pair == disconnected else "1"
                self.series.append(
                    _series(
                        "messaging_client_connected",
                        {**base, "messaging_system": "nats"},
                        f"{connected}x{self.steps}",
                    )
                )
                continue
            error_type = "ConnectError" if pair == failing else ""
            self.series.append(
                _series(
                    f"{name}_count", {**base, "error_type": error_type}, _counter(RATE, self.steps)
                )
            )
            bounds = {
                "0.1": 0 if pair == slow else RATE,
                "1.0": 0 if pair == slow else RATE,
                "2.5": RATE,
                "+Inf": RATE,
            }
            for le, per_step in bounds.items():
                self.series.append(
                    _series(
                        f"{name}_bucket",
                        {**base, "error_type": error_type, "le": le},
                        _counter(per_step, self.steps),
                    )
                )
            for state in ("closed", "open", "half_open"):
                is_open = pair == open_breaker
                value = int(state == "open") if is_open else int(state == "closed")
                self.series.append(
                    _series(
                        "resilience_circuit_breaker_state",
                        {**base, "state": state},
                        f"{value}x{self.steps}",
                    )
                )

    def replicas(self, *, down: tuple[str, int] | None = None) -> None:
        for service in self.model.services:
            for replica in range(self.model.system.services[service].replicas):
                value = "0" if (service, replica) == down else "1"
                self.series.append(
                    _series(
                        "up", {"service": service, "replica": str(replica)}, f"{value}x{self.steps}"
                    )
                )

    def outbox(self, *, stalled_per_step: float = 0.0) -> None:
        for service in self.model.outbox:
            values = (
                _counter(stalled_per_step, self.steps) if stalled_per_step else f"0x{self.steps}"
            )
            self.series.append(
                _series("outbox_oldest_event_age_seconds", {"service": service}, values)
            )


# Test timeline in production seconds (scaled by the profile's speedup).
EVAL_EVERY_S = 1800  # promtool's evaluation interval: 15 s in the game-day profile
STEADY_S = 7 * 3600  # past every tier's short window: each tier has data on both windows
BURST_END_S, BURST_EVAL_S = 10 * 3600, 11 * 3600  # page short windows clean, ticket's not
CAUSES_EVAL_S = 3600


def _annotations(rules: list[dict[str, Any]], alert: str, labels: dict[str, str]) -> dict[str, str]:
    """The annotations promtool will report for an alert with `labels` (templates filled)."""
    for rule in rules:
        if rule.get("alert") == alert and all(
            labels.get(k) == v for k, v in rule.get("labels", {}).items()
        ):
            filled = {}
            for key, text in rule.get("annotations", {}).items():
                for name, value in labels.items():
                    text = text.replace(f"{{{{ $labels.{name} }}}}", value)
                filled[key] = text
            return filled
    raise KeyError(f"no {alert} rule matches {labels}")


def tests(model: Model, profile: Profile, rule_files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The promtool test file of one profile (`rule_files`: file name -> its groups)."""
    rules = [r for groups in rule_files.values() for g in groups["groups"] for r in g["rules"]]
    step_s = 1.0 if profile.speedup > 1 else 60.0

    def scaled(production_s: float) -> float:
        return production_s / profile.speedup

    def steps(production_s: float) -> int:
        return round(scaled(production_s) / step_s)

    def expect(alert: str, labels: dict[str, str]) -> dict[str, Any]:
        return {"exp_labels": labels, "exp_annotations": _annotations(rules, alert, labels)}

    def case(
        name: str, build: Any, alerts: dict[str, list[dict[str, Any]]], eval_s: float
    ) -> dict[str, Any]:
        c = _Case(model, steps(eval_s) + 1)
        build(c)
        return {
            "name": name,
            "interval": duration(step_s),
            "input_series": c.series,
            "alert_rule_test": [
                {
                    "eval_time": duration(scaled(eval_s)),
                    "alertname": a,
                    "exp_alerts": alerts.get(a, []),
                }
                for a in SLO_ALERTS + CAUSE_ALERTS
            ],
        }

    def burning(journey: Journey, sli: str, severities: tuple[str, ...]) -> list[dict[str, Any]]:
        alert = SLO_ALERTS[0] if sli == "availability" else SLO_ALERTS[1]
        return [
            expect(alert, {"severity": s, "journey": journey.name, "sli": sli}) for s in severities
        ]

    def healthy(c: _Case) -> None:
        c.edges()
        c.replicas()
        c.outbox()

    def quiet(c: _Case) -> None:
        for journey in model.journeys:
            c.journey(journey, bad=journey.budget("availability") / 2, slow=False)
        healthy(c)

    cases = [case("quiet: half the budget spent, every edge healthy", quiet, {}, STEADY_S)]
    for hot in model.journeys:

        def burn(c: _Case, hot: Journey = hot) -> None:
            for journey in model.journeys:
                c.journey(journey, bad=1.0 if journey is hot else 0.0, slow=journey is hot)
            healthy(c)

        expected = {SLO_ALERTS[0]: burning(hot, "availability", ("page", "ticket"))}
        if hot.latency_objective:
            expected[SLO_ALERTS[1]] = burning(hot, "latency", ("page", "ticket"))
        cases.append(case(f"{hot.name} burns: its alerts only", burn, expected, STEADY_S))

    def burst(c: _Case) -> None:
        for journey in model.journeys:
            c.journey(journey, bad=1.0, slow=False, burst_then_clean=steps(BURST_END_S))
        healthy(c)

    tickets = [a for j in model.journeys for a in burning(j, "availability", ("ticket",))]
    cases.append(
        case(
            "burst is over: pages reset, tickets still fire",
            burst,
            {SLO_ALERTS[0]: tickets},
            BURST_EVAL_S,
        )
    )

    http = [e for e in model.edges if not e.broker]
    brokers = [e for e in model.edges if e.broker]
    failing, slow, breaker = ((e.caller, e.callee) for e in http[:3])
    broker = (brokers[0].caller, brokers[0].callee) if brokers else None
    down = model.services[-1]

    def causes(c: _Case) -> None:
        for journey in model.journeys:
            c.journey(journey, bad=0.0, slow=False)
        c.edges(failing=failing, slow=slow, open_breaker=breaker, disconnected=broker)
        c.replicas(down=(down, 0))
        c.outbox(stalled_per_step=step_s)

    def edge(alert: str, pair: tuple[str, str] | None) -> list[dict[str, Any]]:
        if pair is None:
            return []
        return [expect(alert, {"severity": "warning", "caller": pair[0], "callee": pair[1]})]

    expected = {
        "DependencyErrorRatioHigh": edge("DependencyErrorRatioHigh", failing),
        "DependencyLatencyHigh": edge("DependencyLatencyHigh", slow),
        "CircuitBreakerOpen": edge("CircuitBreakerOpen", breaker),
        "BrokerDisconnected": edge("BrokerDisconnected", broker),
        "ReplicaDown": [
            expect("ReplicaDown", {"severity": "warning", "service": down, "replica": "0"})
        ],
        "OutboxStalled": [
            expect("OutboxStalled", {"severity": "warning", "service": s}) for s in model.outbox
        ],
    }
    cases.append(
        case(
            "causes: each alert names the faulted edge or service only",
            causes,
            expected,
            CAUSES_EVAL_S,
        )
    )
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": duration(scaled(EVAL_EVERY_S)),
        "tests": cases,
    }
