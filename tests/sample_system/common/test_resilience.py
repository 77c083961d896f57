"""The resilience state machines with an injected clock and sleep: no test sleeps."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from instrumentation import ResilienceMetrics, resilience_metrics
from sample_system.common.errors import DependencyUnavailable
from sample_system.common.resilience import (
    AttemptFailed,
    Bulkhead,
    CircuitBreaker,
    Policy,
    Resilience,
    RetryBudget,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> ResilienceMetrics:
    return resilience_metrics(registry)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def breaker(clock: Clock, metrics: ResilienceMetrics, **options: int | float) -> CircuitBreaker:
    return CircuitBreaker("payments", clock=clock, metrics=metrics, **options)  # type: ignore[arg-type]


# -- circuit breaker ------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_only(clock: Clock, metrics: ResilienceMetrics):
    cb = breaker(clock, metrics, failures=3)
    for _ in range(2):
        assert cb.allow()
        cb.failed()
    assert cb.allow()
    cb.succeeded()  # a success resets the count
    for _ in range(2):
        cb.allow()
        cb.failed()
    assert cb.state == "closed"
    cb.allow()
    cb.failed()
    assert cb.state == "open"


def test_open_breaker_rejects_until_its_open_period_passes(
    clock: Clock, metrics: ResilienceMetrics, registry: CollectorRegistry
):
    cb = breaker(clock, metrics, failures=1, open_seconds=5.0)
    cb.allow()
    cb.failed()
    assert not cb.allow()
    clock.now += 4.99
    assert not cb.allow()
    assert (
        value(registry, "resilience_circuit_breaker_rejections_total", server_address="payments")
        == 2
    )
    clock.now += 0.01
    assert cb.state == "half_open"


def test_half_open_lets_one_probe_through_and_closes_on_its_success(
    clock: Clock, metrics: ResilienceMetrics, registry: CollectorRegistry
):
    cb = breaker(clock, metrics, failures=1, open_seconds=1.0, probes=1)
    cb.allow()
    cb.failed()
    clock.now += 1.0
    assert cb.allow()  # the probe
    assert not cb.allow()  # a second caller while the probe is out
    cb.succeeded()
    assert cb.state == "closed"
    assert cb.allow() and cb.allow()
    transitions = [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    for old, new in transitions:
        assert (
            value(
                registry,
                "resilience_circuit_breaker_transitions_total",
                server_address="payments",
                from_state=old,
                to_state=new,
            )
            == 1
        )
    labels = {"server_address": "payments"}
    assert value(registry, "resilience_circuit_breaker_state", **labels, state="closed") == 1
    assert value(registry, "resilience_circuit_breaker_state", **labels, state="open") == 0


def test_failed_probe_reopens_for_a_full_period(clock: Clock, metrics: ResilienceMetrics):
    cb = breaker(clock, metrics, failures=1, open_seconds=2.0)
    cb.allow()
    cb.failed()
    clock.now += 2.0
    assert cb.allow()
    cb.failed()
    assert cb.state == "open"
    clock.now += 1.9
    assert not cb.allow()
    clock.now += 0.1
    assert cb.allow()


def test_abandoned_probe_frees_its_slot(clock: Clock, metrics: ResilienceMetrics):
    cb = breaker(clock, metrics, failures=1, open_seconds=1.0)
    cb.allow()
    cb.failed()
    clock.now += 1.0
    assert cb.allow()
    cb.abandoned()
    assert cb.allow()


# -- retry budget -----------------------------------------------------------------------------


def test_budget_allows_a_ratio_of_recent_requests_plus_a_reserve(
    clock: Clock, metrics: ResilienceMetrics, registry: CollectorRegistry
):
    budget = RetryBudget(
        "payments", ratio=0.1, min_per_second=0.2, window=10.0, clock=clock, metrics=metrics
    )
    for _ in range(100):
        budget.record_request()
    allowed = sum(budget.try_spend() for _ in range(50))
    assert allowed == 12  # 10% of 100 requests + a reserve of 0.2/s over 10 s
    assert (
        value(registry, "resilience_retry_budget_exhausted_total", server_address="payments") == 38
    )


def test_budget_forgets_requests_and_retries_older_than_its_window(
    clock: Clock, metrics: ResilienceMetrics
):
    budget = RetryBudget(
        "payments", ratio=0.5, min_per_second=0.0, window=10.0, clock=clock, metrics=metrics
    )
    for _ in range(4):
        budget.record_request()
    assert sum(budget.try_spend() for _ in range(5)) == 2
    clock.now += 10.0
    assert not budget.try_spend()  # the requests that earned the retries are gone
    for _ in range(2):
        budget.record_request()
    assert budget.try_spend()


# -- bulkhead -----------------------------------------------------------------------------------


def test_bulkhead_refuses_beyond_its_limit_and_reports_in_flight(
    metrics: ResilienceMetrics, registry: CollectorRegistry
):
    bulkhead = Bulkhead("payments", 2, metrics=metrics)
    assert bulkhead.try_enter() and bulkhead.try_enter()
    assert not bulkhead.try_enter()
    assert value(registry, "resilience_bulkhead_in_flight", server_address="payments") == 2
    assert value(registry, "resilience_bulkhead_rejections_total", server_address="payments") == 1
    bulkhead.leave()
    assert bulkhead.try_enter()


# -- the composition ---------------------------------------------------------------------------


class Script:
    """An attempt function that fails as told, recording the timeouts it was given."""

    def __init__(self, *outcomes: AttemptFailed | Exception | str) -> None:
        self.outcomes = list(outcomes)
        self.timeouts: list[float] = []

    async def __call__(self, timeout: float) -> str:
        self.timeouts.append(timeout)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def resilience(
    clock: Clock, metrics: ResilienceMetrics, sleeps: list[float], **policy: float
) -> Resilience:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    return Resilience(
        "payments",
        Policy(**policy),
        clock=clock,
        sleep=sleep,
        metrics=metrics,  # type: ignore[arg-type]
    )


def timeout() -> AttemptFailed:
    return AttemptFailed("timeout", "ReadTimeout", maybe_processed=True)


def refused() -> AttemptFailed:
    return AttemptFailed("error", "ConnectError", maybe_processed=False)


def test_idempotent_calls_are_retried_with_jittered_backoff(
    clock: Clock, metrics: ResilienceMetrics, registry: CollectorRegistry
):
    sleeps: list[float] = []
    r = resilience(clock, metrics, sleeps, attempts=3, backoff=0.1, backoff_max=1.0)
    attempt = Script(timeout(), refused(), "ok")
    assert asyncio.run(r.call(attempt, idempotent=True)) == "ok"
    assert len(sleeps) == 2
    assert all(0 <= s <= 1.0 for s in sleeps)
    assert value(registry, "resilience_retries_total", server_address="payments") == 2
    assert value(registry, "resilience_timeouts_total", server_address="payments") == 1


def test_non_idempotent_calls_get_one_attempt(clock: Clock, metrics: ResilienceMetrics):
    sleeps: list[float] = []
    r = resilience(clock, metrics, sleeps, attempts=3)
    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(r.call(Script(timeout(), "ok"), idempotent=False))
    assert caught.value.reason == "timeout"
    assert caught.value.maybe_processed
    assert sleeps == []


def test_unavailable_says_not_processed_only_when_no_attempt_can_have_arrived(
    clock: Clock, metrics: ResilienceMetrics
):
    r = resilience(clock, metrics, [], attempts=2)
    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(r.call(Script(refused(), refused()), idempotent=True))
    assert not caught.value.maybe_processed
    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(r.call(Script(timeout(), refused()), idempotent=True))
    assert caught.value.maybe_processed


def test_breaker_opens_and_then_fails_calls_fast(clock: Clock, metrics: ResilienceMetrics):
    r = resilience(clock, metrics, [], attempts=1, breaker_failures=2)
    for _ in range(2):
        with pytest.raises(DependencyUnavailable):
            asyncio.run(r.call(Script(refused()), idempotent=True))
    never_called = Script("ok")
    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(r.call(never_called, idempotent=True))
    assert caught.value.reason == "circuit_open"
    assert not caught.value.maybe_processed
    assert never_called.timeouts == []


def test_an_answer_that_refuses_the_request_keeps_the_breaker_closed(
    clock: Clock, metrics: ResilienceMetrics
):
    r = resilience(clock, metrics, [], attempts=3, breaker_failures=1)
    with pytest.raises(LookupError):
        asyncio.run(r.call(Script(LookupError("404")), idempotent=True))
    assert r.breaker.state == "closed"


def test_spent_budget_stops_retries_and_names_the_reason(clock: Clock, metrics: ResilienceMetrics):
    sleeps: list[float] = []
    r = resilience(
        clock, metrics, sleeps, attempts=5, budget_ratio=0.0, budget_min_per_second=0.1
    )  # a reserve of one retry per 10 s window
    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(r.call(Script(timeout(), timeout(), timeout()), idempotent=True))
    assert caught.value.reason == "budget_exhausted"
    assert len(sleeps) == 1


def test_attempt_timeout_is_capped_by_the_deadline_and_no_attempt_starts_after_it(
    clock: Clock, metrics: ResilienceMetrics
):
    sleeps: list[float] = []
    r = resilience(clock, metrics, sleeps, attempts=3, timeout=1.0, backoff=0.0)
    attempt = Script(timeout(), "ok")
    assert asyncio.run(r.call(attempt, idempotent=True, deadline=clock.now + 0.25)) == "ok"
    assert attempt.timeouts == [0.25, 0.25]
    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(r.call(Script("ok"), idempotent=True, deadline=clock.now - 0.1))
    assert caught.value.reason == "timeout"


def test_full_bulkhead_refuses_without_calling(clock: Clock, metrics: ResilienceMetrics):
    r = resilience(clock, metrics, [], max_concurrent=1)

    async def scenario() -> str:
        gate = asyncio.Event()

        async def slow(timeout: float) -> str:
            await gate.wait()
            return "slow"

        first = asyncio.create_task(r.call(slow, idempotent=True))
        await asyncio.sleep(0)  # let it enter the bulkhead
        with pytest.raises(DependencyUnavailable) as caught:
            await r.call(Script("ok"), idempotent=True)
        assert caught.value.reason == "bulkhead_full"
        gate.set()
        return await first

    assert asyncio.run(scenario()) == "slow"
    assert r.bulkhead.in_flight == 0


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError, match="attempts"):
        Policy(attempts=0)
    with pytest.raises(ValueError, match="timeout"):
        Policy(timeout=0)
