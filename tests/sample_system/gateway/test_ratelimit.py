"""Per-key token buckets with an injected clock."""

from __future__ import annotations

import pytest

from sample_system.gateway.ratelimit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_then_refuses_with_the_wait():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.try_acquire("alice") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("alice") == pytest.approx(0.5)
    clock.now += 0.25
    assert limiter.try_acquire("alice") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.try_acquire("alice") == 0.0


def test_keys_have_their_own_buckets():
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock())
    assert limiter.try_acquire("alice") == 0.0
    assert limiter.try_acquire("alice") > 0
    assert limiter.try_acquire("bob") == 0.0


def test_tokens_never_exceed_the_burst():
    clock = Clock()
    limiter = RateLimiter(rate=10.0, burst=2, clock=clock)
    limiter.try_acquire("alice")
    clock.now += 100.0
    allowed = [limiter.try_acquire("alice") == 0.0 for _ in range(3)]
    assert allowed == [True, True, False]


def test_retry_after_is_whole_seconds_rounded_up():
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(1.2) == "2"


def test_refuses_nonsense_limits():
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(rate=0, burst=1)
