"""Alerts per phase: from Prometheus' ALERTS series to the journal and summary.md."""

from __future__ import annotations

from chaos.experiment.alerts import alerts_by_phase, firing_in, summary_lines


def test_each_alert_is_reported_once_with_its_first_firing_second():
    result = [
        {
            "metric": {"__name__": "ALERTS", "alertname": "CircuitBreakerOpen",
                       "alertstate": "firing", "caller": "orders", "callee": "payments"},
            "values": [[103.0, "1"], [104.0, "1"]],
        },
        {
            "metric": {"__name__": "ALERTS", "alertname": "ReplicaDown", "alertstate": "firing",
                       "service": "payments", "replica": "0"},
            "values": [[101.0, "1"]],
        },
    ]  # fmt: skip
    fired = firing_in(result, start=100.0)
    assert [a["alertname"] for a in fired] == ["ReplicaDown", "CircuitBreakerOpen"]
    assert fired[1] == {
        "alertname": "CircuitBreakerOpen",
        "labels": {"callee": "payments", "caller": "orders"},
        "first_firing_s": 3.0,
    }
    lines = summary_lines({"baseline": [], "fault": fired})
    assert "- baseline: none" in lines
    assert "CircuitBreakerOpen{callee=payments, caller=orders} after 3s" in lines[-1]


def test_an_unreachable_prometheus_gives_no_alerts_rather_than_failing_the_run():
    from chaos.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert alerts_by_phase(url, {"fault": (1.0, 2.0)}) == {"fault": []}
