"""Alerts per phase: from Prometheus' ALERTS series to the journal and summary.md."""

from __future__ import annotations

from pathlib import Path

from chaos.experiment.alerts import alerts_by_phase, firing_in, isolation, summary_lines
from chaos.experiment.file import load_experiment
from chaos.experiment.isolation import Expectation
from chaos.system.model import load_system

ROOT = Path(__file__).parents[3]
PAYMENTS_DOWN = Expectation.of(
    load_experiment(ROOT / "sample_system/experiments/payments-down.yaml"),
    load_system(ROOT / "sample_system/system.yaml"),
)


def series(values: list[float], **labels: str) -> dict[str, object]:
    return {
        "metric": {"__name__": "ALERTS", "alertstate": "firing", **labels},
        "values": [[t, "1"] for t in values],
    }


RESULT = [
    series([103.0, 104.0], alertname="CircuitBreakerOpen", caller="orders", callee="payments"),
    series([101.0], alertname="ReplicaDown", service="payments", replica="0"),
    series([99.0, 100.0, 101.0], alertname="JourneyErrorBudgetBurn", journey="browse", sli="x"),
]


def test_each_alert_is_reported_once_with_its_first_firing_second():
    fired = firing_in(RESULT, start=100.0, end=104.0)
    assert [a["alertname"] for a in fired] == [
        "JourneyErrorBudgetBurn",
        "ReplicaDown",
        "CircuitBreakerOpen",
    ]
    assert fired[2] == {
        "alertname": "CircuitBreakerOpen",
        "labels": {"callee": "payments", "caller": "orders"},
        "first_firing_s": 3.0,
        "firing_at_start": False,
        "resolved_s": None,  # still firing at the end of the phase
    }
    assert fired[0]["firing_at_start"] and fired[0]["first_firing_s"] == 0.0
    assert fired[0]["resolved_s"] == 2.0 and fired[1]["resolved_s"] == 2.0


def test_alerts_of_the_fault_are_related_to_it_and_judged_without_those_already_firing():
    fired = firing_in(RESULT, start=100.0, end=104.0, expected=PAYMENTS_DOWN)
    assert [a["relation"] for a in fired] == ["unexpected", "names the fault", "names the fault"]
    # The browse alert was firing before the fault began: not the fault's doing.
    verdict = isolation({"fault": fired}, PAYMENTS_DOWN)
    assert verdict == {
        "fault": "payments down",
        "isolated": True,
        "named": ["ReplicaDown{payments/0}", "CircuitBreakerOpen{orders->payments}"],
        "unexpected": [],
    }
    late = firing_in(RESULT, start=98.0, end=104.0, expected=PAYMENTS_DOWN)
    assert isolation({"fault": late}, PAYMENTS_DOWN)["unexpected"] == [
        "JourneyErrorBudgetBurn{browse x}"
    ]


def test_the_summary_lists_each_phase_and_the_isolation_verdict():
    fired = firing_in(RESULT, start=100.0, end=104.0, expected=PAYMENTS_DOWN)
    lines = summary_lines(
        {"baseline": [], "fault": fired}, isolation({"fault": fired}, PAYMENTS_DOWN)
    )
    assert "- baseline: none" in lines
    fault = next(line for line in lines if line.startswith("- fault:"))
    assert "CircuitBreakerOpen{orders->payments} after 3s, names the fault" in fault
    assert "JourneyErrorBudgetBurn{browse x} firing as it began, resolved after 2s, unexpected" in (
        fault
    )
    assert lines[-1] == "Isolated: the alerts point at payments down and nothing else."
    nothing = isolation({"fault": []}, PAYMENTS_DOWN)
    assert summary_lines({"fault": []}, nothing)[-1] == (
        "**Not isolated**: no alert names payments down."
    )


def test_an_unreachable_prometheus_gives_no_alerts_rather_than_failing_the_run():
    from chaos.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert alerts_by_phase(url, {"fault": (1.0, 2.0)}) == {"fault": []}
