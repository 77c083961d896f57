"""Client-side load balancing: round robin, ejection for a while, panic mode (injected clock)."""

from __future__ import annotations

import pytest

from sample_system.common.balancer import Balancer

A, B, C = "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_round_robin_over_every_endpoint():
    balancer = Balancer([A, B, C])
    assert [balancer.pick() for _ in range(6)] == [A, B, C, A, B, C]


def test_failing_endpoint_is_ejected_after_consecutive_failures_then_comes_back():
    clock = Clock()
    balancer = Balancer([A, B], eject_after=2, eject_seconds=5.0, clock=clock)
    balancer.failed(A)
    assert balancer.ejected() == []
    balancer.failed(A)
    assert balancer.ejected() == [A]
    assert {balancer.pick() for _ in range(4)} == {B}
    clock.now += 5.0
    assert balancer.ejected() == []
    assert {balancer.pick() for _ in range(4)} == {A, B}


def test_a_success_resets_the_failure_count():
    balancer = Balancer([A, B], eject_after=2)
    balancer.failed(A)
    balancer.succeeded(A)
    balancer.failed(A)
    assert balancer.ejected() == []


def test_a_retry_avoids_the_endpoints_already_tried():
    balancer = Balancer([A, B, C])
    assert balancer.pick() == A
    assert balancer.pick(avoid={B}) == C
    assert balancer.pick(avoid={A, C}) == B


def test_when_everything_was_tried_it_still_answers():
    balancer = Balancer([A, B])
    assert balancer.pick(avoid={A, B}) in {A, B}


def test_panic_mode_picks_the_endpoint_that_comes_back_first():
    clock = Clock()
    balancer = Balancer([A, B], eject_after=1, eject_seconds=5.0, clock=clock)
    balancer.failed(B)
    clock.now += 1.0
    balancer.failed(A)
    assert balancer.pick() == B
    assert balancer.pick(avoid={B}) == A


def test_refuses_an_empty_endpoint_list():
    with pytest.raises(ValueError, match="at least one endpoint"):
        Balancer([])
