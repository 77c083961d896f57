from prometheus_client import CollectorRegistry

from instrumentation import resilience_metrics


def test_every_mechanism_reports_per_dependency() -> None:
    registry = CollectorRegistry()
    metrics = resilience_metrics(registry)
    assert resilience_metrics(registry) is metrics  # one set per registry

    metrics.retry("payments")
    metrics.retry("payments")
    metrics.budget_exhausted("payments")
    metrics.timeout("payments")
    metrics.set_breaker_state("payments", "closed")
    metrics.breaker_changed("payments", "closed", "open")
    metrics.breaker_rejected("payments")
    metrics.bulkhead_entered("payments")
    metrics.bulkhead_entered("payments")
    metrics.bulkhead_left("payments")
    metrics.bulkhead_rejected("payments")
    metrics.fallback("reviews", "circuit_open")

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"server_address": "payments", **labels})

    assert value("resilience_retries_total") == 2
    assert value("resilience_retry_budget_exhausted_total") == 1
    assert value("resilience_timeouts_total") == 1
    assert value("resilience_circuit_breaker_state", state="open") == 1
    assert value("resilience_circuit_breaker_state", state="closed") == 0
    assert value("resilience_circuit_breaker_state", state="half_open") == 0
    assert (
        value("resilience_circuit_breaker_transitions_total", from_state="closed", to_state="open")
        == 1
    )
    assert value("resilience_circuit_breaker_rejections_total") == 1
    assert value("resilience_bulkhead_in_flight") == 1
    assert value("resilience_bulkhead_rejections_total") == 1
    assert (
        registry.get_sample_value(
            "resilience_fallbacks_total", {"server_address": "reviews", "reason": "circuit_open"}
        )
        == 1
    )
