"""Metrics of resilience mechanisms, per dependency: retries, timeouts, circuit breakers,
bulkheads and fallbacks. Documented in docs/metrics.md.

The mechanisms themselves live in the service (for the sample system,
sample_system/common/resilience.py); they report through `ResilienceMetrics`, whose label
values are dependency names and small fixed vocabularies, never raw input.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

from instrumentation.metrics import PerRegistry

BreakerState = Literal["closed", "open", "half_open"]
BREAKER_STATES: tuple[BreakerState, ...] = ("closed", "open", "half_open")
FallbackReason = Literal["error", "timeout", "circuit_open", "bulkhead_full", "budget_exhausted"]


class ResilienceMetrics:
    """The resilience metric families of one registry, with one method per event."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, ["server_address", *labels], registry=registry)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(
                name,
                doc,
                ["server_address", *labels],
                registry=registry,
                multiprocess_mode="livesum",
            )

        self.retries = counter("resilience_retries", "Retries of calls to a dependency.")
        self.retry_budget_exhausted = counter(
            "resilience_retry_budget_exhausted",
            "Retries not attempted because the dependency's retry budget was spent.",
        )
        self.timeouts = counter("resilience_timeouts", "Calls to a dependency that timed out.")
        self.breaker_state = gauge(
            "resilience_circuit_breaker_state",
            "1 for the circuit breaker's current state (closed, open, half_open), else 0.",
            "state",
        )
        self.breaker_transitions = counter(
            "resilience_circuit_breaker_transitions",
            "Circuit breaker state changes.",
            "from_state",
            "to_state",
        )
        self.breaker_rejections = counter(
            "resilience_circuit_breaker_rejections",
            "Calls refused without trying because the circuit breaker was open.",
        )
        self.bulkhead_in_flight = gauge(
            "resilience_bulkhead_in_flight", "Calls to a dependency in flight inside its bulkhead."
        )
        self.bulkhead_rejections = counter(
            "resilience_bulkhead_rejections", "Calls refused because the bulkhead was full."
        )
        self.fallbacks = counter(
            "resilience_fallbacks",
            "Calls answered by a fallback instead of the dependency.",
            "reason",
        )

    def retry(self, dependency: str) -> None:
        """A call to `dependency` is being retried."""
        self.retries.labels(dependency).inc()

    def budget_exhausted(self, dependency: str) -> None:
        """A retry was skipped because the retry budget is spent."""
        self.retry_budget_exhausted.labels(dependency).inc()

    def timeout(self, dependency: str) -> None:
        """A call to `dependency` timed out."""
        self.timeouts.labels(dependency).inc()

    def breaker_changed(self, dependency: str, old: BreakerState, new: BreakerState) -> None:
        """The breaker of `dependency` went from `old` to `new`."""
        self.breaker_transitions.labels(dependency, old, new).inc()
        self.set_breaker_state(dependency, new)

    def set_breaker_state(self, dependency: str, state: BreakerState) -> None:
        """Expose `state` as the breaker's current state (call once at creation too)."""
        for candidate in BREAKER_STATES:
            self.breaker_state.labels(dependency, candidate).set(1 if candidate == state else 0)

    def breaker_rejected(self, dependency: str) -> None:
        """A call was refused because the breaker is open."""
        self.breaker_rejections.labels(dependency).inc()

    def bulkhead_entered(self, dependency: str) -> None:
        """A call entered the bulkhead of `dependency`."""
        self.bulkhead_in_flight.labels(dependency).inc()

    def bulkhead_left(self, dependency: str) -> None:
        """A call left the bulkhead of `dependency`."""
        self.bulkhead_in_flight.labels(dependency).dec()

    def bulkhead_rejected(self, dependency: str) -> None:
        """A call was refused because the bulkhead of `dependency` was full."""
        self.bulkhead_rejections.labels(dependency).inc()

    def fallback(self, dependency: str, reason: FallbackReason) -> None:
        """A fallback answered instead of `dependency`."""
        self.fallbacks.labels(dependency, reason).inc()


resilience_metrics = PerRegistry(ResilienceMetrics)
"""The resilience metrics of a registry (the global one by default), created once."""
