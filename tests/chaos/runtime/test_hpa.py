"""The HPA decision: proportional, tolerant, stabilised, rate-limited and clamped. Pure."""

from __future__ import annotations

import dataclasses

import pytest

from chaos.runtime.hpa import Hpa, raw_recommendation
from chaos.system.model import Autoscale

POLICY = Autoscale(min=1, max=6, metric="busy", target=0.5, scale_up_after=10, scale_down_after=30)


@pytest.mark.parametrize(
    ("current", "metric", "raw"),
    [
        (1, 1.0, 2),  # twice the target: twice the replicas
        (2, 0.9, 4),  # ceil(2 * 1.8)
        (3, 0.5, 3),  # on target
        (3, 0.54, 3),  # 8 % over: inside the 10 % tolerance
        (3, 0.46, 3),  # 8 % under: inside too
        (3, 0.56, 4),  # 12 % over: ceil(3.36)
        (4, 0.1, 1),  # ceil(0.8)
        (2, 0.0, 1),  # idle: at least one (min is applied after stabilisation)
    ],
)
def test_raw_recommendation_is_proportional_outside_the_tolerance(
    current: int, metric: float, raw: int
) -> None:
    assert raw_recommendation(current, metric, POLICY) == raw


def first_change(
    policy: Autoscale, current: int, metric_at: dict[int, float], until: int, default: float
) -> tuple[int, int] | None:
    """Feed one reading a second; (time, desired) of the first decision that changes."""
    hpa = Hpa(policy)
    for t in range(until + 1):
        decision = hpa.decide(float(t), current, metric_at.get(t, default))
        if decision.changes:
            return t, decision.desired
    return None


@pytest.mark.parametrize(
    ("scenario", "current", "readings", "default", "expected"),
    [
        # 0.5 (on target) until t=4, then 1.5: the up window [t-10, t] holds only 1.5 at t=15
        ("sustained spike scales out", 1, {t: 0.5 for t in range(5)}, 1.5, (15, 3)),
        ("one noisy reading does not", 2, {7: 2.0}, 0.5, None),
        # 0.5 until t=4, then 0.1: the down window [t-30, t] holds only raw 1 from t=35
        ("scale-in waits the down window", 4, {t: 0.5 for t in range(5)}, 0.1, (35, 1)),
        # raw 2 throughout but one raw-4 reading at t=20: scale-in only once it left the window
        ("a bump restarts the down window", 3, {20: 0.6}, 0.2, (51, 2)),
        ("a new autoscaler does not scale in at once", 3, {}, 0.2, (30, 2)),
    ],
)
def test_stabilisation_windows(
    scenario: str,
    current: int,
    readings: dict[int, float],
    default: float,
    expected: tuple[int, int] | None,
) -> None:
    assert first_change(POLICY, current, readings, 60, default) == expected, scenario


def test_scale_up_is_limited_per_step_and_by_max() -> None:
    eager = dataclasses.replace(POLICY, scale_up_after=0)
    hpa = Hpa(eager)
    first = hpa.decide(0, 1, 5.0)  # raw ceil(10) = 10; at most max(+100 %, +4) = 5
    assert (first.raw, first.desired) == (10, 5)
    second = hpa.decide(1, 5, 2.0)  # raw 20; at most 10; max 6
    assert (second.raw, second.desired) == (20, 6)
    assert "clamped" in second.reason


def test_scale_down_stops_at_min_and_no_metric_holds() -> None:
    policy = dataclasses.replace(POLICY, min=2, scale_down_after=0)
    hpa = Hpa(policy)
    assert hpa.decide(0, 3, 0.0).desired == 2
    held = hpa.decide(1, 3, None)
    assert not held.changes and "no metric" in held.reason
    assert Hpa(policy).decide(0, 1, None).desired == 2  # below min: brought up to min
