"""Timeouts, retries with jitter, a retry budget, a circuit breaker and a bulkhead per dependency.

    bulkhead ─► retry loop (tenacity; only for idempotent calls, only within the budget)
                  └─► circuit breaker ─► one attempt with its timeout

The state machines (`CircuitBreaker`, `RetryBudget`, `Bulkhead`) are pure: time comes from an
injected clock, and the retry loop's sleep is injected, so tests never sleep. Every event is
reported through `instrumentation.resilience_metrics()` (docs/metrics.md). Why a small breaker
of our own instead of a library: docs/resilience.md.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_random_exponential

from instrumentation import ResilienceMetrics, resilience_metrics
from instrumentation.resilience import BreakerState
from sample_system.common.errors import DependencyUnavailable, UnavailableReason

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Policy:
    """How calls to one dependency are protected; every duration in seconds."""

    timeout: float = 1.0  # per attempt, capped by the caller's deadline
    attempts: int = 3  # for idempotent calls; others get exactly one
    backoff: float = 0.05  # full-jitter exponential backoff: random in [0, backoff * 2^n]
    backoff_max: float = 0.5
    budget_ratio: float = 0.2  # retries may add at most 20% to the request rate ...
    budget_min_per_second: float = 2.0  # ... plus this many retries per second at low traffic
    breaker_failures: int = 5  # consecutive failures that open the breaker
    # How long it stays open before one probe is let through. The shop's dependencies are
    # local and come back within a second; a probe every 2 s finds them soon after.
    breaker_open_seconds: float = 2.0
    breaker_probes: int = 1  # concurrent calls allowed while half-open
    max_concurrent: int = 32  # the bulkhead

    def __post_init__(self) -> None:
        for name in ("timeout", "breaker_open_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Policy.{name} must be > 0, got {getattr(self, name)}")
        for name in ("attempts", "breaker_failures", "breaker_probes", "max_concurrent"):
            if getattr(self, name) < 1:
                raise ValueError(f"Policy.{name} must be >= 1, got {getattr(self, name)}")


class AttemptFailed(Exception):
    """One attempt got no usable answer; `maybe_processed` if it may have reached the callee.

    `unhealthy` is False when the callee did answer, with an error about this very request (a
    500 that bad input can cause): it may be retried elsewhere, but it says nothing about the
    callee's health, so the circuit breaker does not count it.
    """

    def __init__(
        self,
        reason: UnavailableReason,
        detail: str,
        *,
        maybe_processed: bool,
        unhealthy: bool = True,
    ) -> None:
        super().__init__(detail)
        self.reason: UnavailableReason = reason
        self.detail = detail
        self.maybe_processed = maybe_processed
        self.unhealthy = unhealthy


class CircuitBreaker:
    """Opens after `failures` consecutive failures; after `open_seconds` lets `probes` through."""

    def __init__(
        self,
        dependency: str,
        *,
        failures: int = 5,
        open_seconds: float = 5.0,
        probes: int = 1,
        clock: Clock = time.monotonic,
        metrics: ResilienceMetrics | None = None,
    ) -> None:
        self.dependency = dependency
        self._threshold = failures
        self._open_seconds = open_seconds
        self._max_probes = probes
        self._clock = clock
        self._metrics = metrics if metrics is not None else resilience_metrics()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0
        self._metrics.set_breaker_state(dependency, "closed")

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.dependency!r}, state={self.state!r})"

    @property
    def state(self) -> BreakerState:
        """The current state, `half_open` once the open period has passed."""
        if self._state == "open" and self._clock() >= self._opened_at + self._open_seconds:
            self._move("half_open")
        return self._state

    def allow(self) -> bool:
        """May a call go through now? A True while half-open takes one probe slot."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and self._probes < self._max_probes:
            self._probes += 1
            return True
        self._metrics.breaker_rejected(self.dependency)
        return False

    def succeeded(self) -> None:
        """The call that `allow()` admitted got an answer."""
        self._failures = 0
        if self._state == "half_open":
            self._move("closed")

    def failed(self) -> None:
        """The call that `allow()` admitted got no usable answer."""
        if self._state == "half_open":
            self._open()
            return
        self._failures += 1
        if self._state == "closed" and self._failures >= self._threshold:
            self._open()

    def abandoned(self) -> None:
        """The admitted call was cancelled before it had an outcome: free its probe slot."""
        if self._state == "half_open" and self._probes > 0:
            self._probes -= 1

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._move("open")

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self._failures = 0
        self._probes = 0
        if old != new:
            self._metrics.breaker_changed(self.dependency, old, new)


class RetryBudget:
    """Retries allowed: `ratio` of the requests of the last `window` s, plus a minimum rate.

    A budget (Finagle's RetryBudget, gRPC's retry throttling) keeps retries from multiplying
    the load on a dependency that is already failing: when everything fails, retries stay a
    fraction of the traffic instead of tripling it.
    """

    def __init__(
        self,
        dependency: str,
        *,
        ratio: float = 0.2,
        min_per_second: float = 2.0,
        window: float = 10.0,
        clock: Clock = time.monotonic,
        metrics: ResilienceMetrics | None = None,
    ) -> None:
        self.dependency = dependency
        self._ratio = ratio
        self._reserve = min_per_second * window
        self._window = window
        self._clock = clock
        self._metrics = metrics if metrics is not None else resilience_metrics()
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_request(self) -> None:
        """An original (not retried) call was made."""
        self._requests.append(self._clock())

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and counted) when it is spent."""
        now = self._clock()
        for events in (self._requests, self._retries):
            while events and events[0] <= now - self._window:
                events.popleft()
        if len(self._retries) + 1 > self._reserve + self._ratio * len(self._requests):
            self._metrics.budget_exhausted(self.dependency)
            return False
        self._retries.append(now)
        return True


class Bulkhead:
    """At most `limit` calls in flight to one dependency; more are refused at once."""

    def __init__(
        self, dependency: str, limit: int, *, metrics: ResilienceMetrics | None = None
    ) -> None:
        self.dependency = dependency
        self.limit = limit
        self.in_flight = 0
        self._metrics = metrics if metrics is not None else resilience_metrics()

    def try_enter(self) -> bool:
        """Take a slot, or count a rejection and return False."""
        if self.in_flight >= self.limit:
            self._metrics.bulkhead_rejected(self.dependency)
            return False
        self.in_flight += 1
        self._metrics.bulkhead_entered(self.dependency)
        return True

    def leave(self) -> None:
        """Give the slot back."""
        self.in_flight -= 1
        self._metrics.bulkhead_left(self.dependency)


class Resilience:
    """The protections of one dependency, composed around a single-attempt function."""

    def __init__(
        self,
        dependency: str,
        policy: Policy,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        metrics: ResilienceMetrics | None = None,
    ) -> None:
        self.dependency = dependency
        self.policy = policy
        self.metrics = metrics if metrics is not None else resilience_metrics()
        self.breaker = CircuitBreaker(
            dependency,
            failures=policy.breaker_failures,
            open_seconds=policy.breaker_open_seconds,
            probes=policy.breaker_probes,
            clock=clock,
            metrics=self.metrics,
        )
        self.budget = RetryBudget(
            dependency,
            ratio=policy.budget_ratio,
            min_per_second=policy.budget_min_per_second,
            clock=clock,
            metrics=self.metrics,
        )
        self.bulkhead = Bulkhead(dependency, policy.max_concurrent, metrics=self.metrics)
        self._clock = clock
        self._sleep = sleep

    async def call(
        self,
        attempt: Callable[[float], Awaitable[T]],
        *,
        idempotent: bool,
        deadline: float | None = None,
    ) -> T:
        """Run `attempt(timeout)` under every protection; raises `DependencyUnavailable`.

        `attempt` raises `AttemptFailed` when it got no usable answer; any other exception
        (a 4xx, say) means the dependency answered and passes through untouched. `deadline`
        is an absolute time on the clock after which no attempt starts.
        """
        if not self.bulkhead.try_enter():
            raise DependencyUnavailable(
                self.dependency,
                "bulkhead_full",
                f"{self.policy.max_concurrent} calls already in flight",
                maybe_processed=False,
            )
        try:
            return await self._retry_loop(attempt, idempotent=idempotent, deadline=deadline)
        finally:
            self.bulkhead.leave()

    def fallback(self, reason: UnavailableReason) -> None:
        """Count an answer served by a fallback instead of this dependency."""
        self.metrics.fallback(self.dependency, reason)

    async def _retry_loop(
        self, attempt: Callable[[float], Awaitable[T]], *, idempotent: bool, deadline: float | None
    ) -> T:
        attempts = self.policy.attempts if idempotent else 1
        maybe_processed = False
        budget_refused = False
        self.budget.record_request()

        def should_retry(state: RetryCallState) -> bool:
            nonlocal budget_refused
            outcome = state.outcome
            if outcome is None or not isinstance(outcome.exception(), AttemptFailed):
                return False
            if state.attempt_number >= attempts or self._remaining(deadline) <= 0:
                return False
            if not self.budget.try_spend():
                budget_refused = True
                return False
            return True

        def before_sleep(_: RetryCallState) -> None:
            self.metrics.retry(self.dependency)

        async def one_attempt() -> T:
            nonlocal maybe_processed
            timeout = min(self.policy.timeout, self._remaining(deadline))
            if timeout <= 0:
                raise DependencyUnavailable(
                    self.dependency,
                    "timeout",
                    "the caller's deadline passed before the call could start",
                    maybe_processed=maybe_processed,
                )
            if not self.breaker.allow():
                raise DependencyUnavailable(
                    self.dependency,
                    "circuit_open",
                    "the circuit breaker is open after repeated failures",
                    maybe_processed=maybe_processed,
                )
            try:
                result = await attempt(timeout)
            except AttemptFailed as failure:
                if failure.unhealthy:
                    self.breaker.failed()
                else:  # it answered: an error about this request, not about its health
                    self.breaker.succeeded()
                maybe_processed = maybe_processed or failure.maybe_processed
                if failure.reason == "timeout":
                    self.metrics.timeout(self.dependency)
                raise
            except asyncio.CancelledError:
                self.breaker.abandoned()
                raise
            except BaseException:
                self.breaker.succeeded()  # it answered: the request was refused, not the service
                raise
            self.breaker.succeeded()
            return result

        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(
                multiplier=self.policy.backoff, max=self.policy.backoff_max
            ),
            retry=should_retry,
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return await retrying(one_attempt)
        except AttemptFailed as failure:
            reason: UnavailableReason = "budget_exhausted" if budget_refused else failure.reason
            raise DependencyUnavailable(
                self.dependency, reason, failure.detail, maybe_processed=maybe_processed
            ) from failure

    def _remaining(self, deadline: float | None) -> float:
        return float("inf") if deadline is None else deadline - self._clock()
