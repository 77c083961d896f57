"""Alert isolation, judged against the shop's experiment files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chaos.experiment.file import load_experiment
from chaos.experiment.isolation import Expectation, describe, judge, upstream_of
from chaos.system.model import load_system
from chaos.system.target import parse_target

ROOT = Path(__file__).parents[3]
SHOP = load_system(ROOT / "sample_system" / "system.yaml")


def expected(name: str) -> Expectation:
    return Expectation.of(load_experiment(ROOT / f"sample_system/experiments/{name}.yaml"), SHOP)


def edge(alertname: str, caller: str, callee: str) -> dict[str, str]:
    return {"alertname": alertname, "caller": caller, "callee": callee, "severity": "warning"}


def journey(name: str, sli: str = "availability") -> dict[str, str]:
    return {"alertname": "JourneyErrorBudgetBurn", "journey": name, "sli": sli, "severity": "page"}


def test_the_upstream_of_a_service_is_every_transitive_caller():
    assert upstream_of(SHOP, "payments") == {"orders", "gateway"}
    assert upstream_of(SHOP, "nats") == {"orders", "notifications", "gateway"}
    assert upstream_of(SHOP, "gateway") == set()


def test_payments_down_alerts_on_payments_its_callers_and_checkout_are_isolated():
    verdict = judge(
        [
            edge("CircuitBreakerOpen", "orders", "payments"),
            edge("DependencyErrorRatioHigh", "gateway", "orders"),
            journey("checkout"),
        ],
        expected("payments-down"),
    )
    assert verdict.isolated
    assert [describe(a) for a in verdict.by_relation["upstream symptom"]] == [
        "DependencyErrorRatioHigh{gateway->orders}"
    ]


def test_an_alert_for_a_journey_meant_to_hold_breaks_isolation():
    verdict = judge(
        [edge("CircuitBreakerOpen", "orders", "payments"), journey("browse")],
        expected("payments-down"),
    )
    assert not verdict.isolated
    assert verdict.unexpected == (journey("browse"),)


def test_a_cause_alert_off_the_faulted_path_breaks_isolation():
    verdict = judge(
        [edge("CircuitBreakerOpen", "gateway", "reviews"), edge("X", "gateway", "catalog")],
        expected("reviews-down"),
    )
    assert not verdict.isolated
    assert [describe(a) for a in verdict.unexpected] == ["X{gateway->catalog}"]


def test_only_symptoms_is_not_isolated_the_fault_must_be_named():
    verdict = judge([journey("checkout")], expected("payments-down"))
    assert not verdict.isolated


def test_a_killed_replica_is_named_by_replica_down_and_no_journey_may_alert():
    replica = expected("payments-replica-killed")
    assert replica.fault == "payments/0 kill" and replica.degraded == set()
    down = {"alertname": "ReplicaDown", "service": "payments", "replica": "0"}
    assert judge([down], replica).isolated
    assert describe(down) == "ReplicaDown{payments/0}"
    assert not judge([down, journey("checkout", "latency")], replica).isolated


def test_nats_down_names_the_broker_edges_and_the_stalled_outbox_is_upstream():
    verdict = judge(
        [
            edge("BrokerDisconnected", "orders", "nats"),
            {"alertname": "OutboxStalled", "service": "orders"},
        ],
        expected("nats-down"),
    )
    assert verdict.isolated
    assert set(verdict.by_relation) == {"names the fault", "upstream symptom"}


def test_an_edge_fault_has_only_its_caller_upstream():
    one = load_experiment(ROOT / "sample_system/experiments/payments-down.yaml")
    edge_fault = replace(one.faults[0], target=parse_target("orders->payments"))
    both = replace(one, faults=(edge_fault, replace(edge_fault, target=parse_target("reviews"))))
    expectation = Expectation.of(both, SHOP)
    assert expectation.services == {"payments", "reviews"}
    assert expectation.upstream == {"orders", "gateway"}
    assert expectation.fault == "orders->payments down, reviews down"
