"""The knee search on synthetic capacity curves: it brackets the true knee. Pure."""

from __future__ import annotations

import random

import pytest

from chaos.scale.knee import KneeSearch, Step, bracket, capacity


def search(true_knee: float, start: float, noise: float = 0.0, seed: int = 1) -> list[Step]:
    """Run the search against a system that passes below `true_knee` (+- noise near it)."""
    rng = random.Random(seed)
    knee_search = KneeSearch(start=start)
    steps: list[Step] = []
    while (rate := knee_search.next_rate(steps)) is not None:
        wobble = rng.uniform(-noise, noise) * true_knee
        steps.append(Step(rate=rate, passed=rate <= true_knee + wobble))
    return steps


@pytest.mark.parametrize(
    ("knee", "start"), [(19.0, 5.0), (37.5, 5.0), (3.2, 5.0), (100.0, 2.0), (5.0, 5.0)]
)
def test_the_search_brackets_the_knee_within_tolerance(knee: float, start: float) -> None:
    steps = search(knee, start)
    found = capacity(steps)
    assert found is not None
    assert found <= knee  # never above: every reported capacity passed
    low, high = bracket(steps)
    assert low is not None and high is not None
    assert low <= knee < high
    assert (high - low) / low <= 0.05
    assert len(steps) <= 14


def test_steps_up_then_bisects() -> None:
    rates = [s.rate for s in search(19.0, 5.0)]
    assert rates[:5] == [5.0, 7.5, 11.25, 16.875, 25.3125]  # x1.5 until the first failure
    assert rates[5] == pytest.approx((16.875 + 25.3125) / 2, abs=0.001)


def test_noise_near_the_knee_never_reports_a_rate_above_a_failure() -> None:
    for seed in range(30):
        steps = search(20.0, 5.0, noise=0.08, seed=seed)
        found = capacity(steps)
        failures = [s.rate for s in steps if not s.passed]
        assert found is not None and all(found < f for f in failures)
        assert 20.0 * 0.85 <= found <= 20.0 * 1.08


def test_nothing_passes_down_to_the_floor() -> None:
    steps = search(0.1, 5.0)
    assert capacity(steps) is None
    assert min(s.rate for s in steps) == 0.5


def test_invalid_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match="start rate 0/s"):
        KneeSearch(start=0)
    with pytest.raises(ValueError, match="factor"):
        KneeSearch(start=5, factor=1.0)
