"""Gain judged by two witnesses, the probe step and the capacities (pure, synthetic samples)."""

from __future__ import annotations

import pytest

from chaos.scale.gain import judge_gain
from loadtests.windows import Window, WindowStats
from tests.chaos.judgement.synthetic import T0, Load


def probe(seed: int, *, median_ms: float, error_rate: float) -> WindowStats:
    """Ten seconds of checkout at the probe rate."""
    load = Load(seed)
    load.add("checkout", range(10), median_ms=median_ms, error_rate=error_rate, per_second=20)
    return load.samples.stats("checkout", Window("probe", float(T0), float(T0 + 10)))


OVERLOADED = {"median_ms": 800.0, "error_rate": 0.5}  # one replica past its knee
KEEPS_UP = {"median_ms": 150.0, "error_rate": 0.0}


@pytest.mark.parametrize(
    ("many", "capacity_ratio", "verdict"),
    [
        (KEEPS_UP, 1.6, "gain"),  # both witnesses: the bottleneck scaled
        (OVERLOADED, 1.02, "no gain"),  # neither: a service that is not the bottleneck
        (KEEPS_UP, 1.02, "inconclusive"),  # the probe passed by chance at a bistable knee
        (OVERLOADED, 1.6, "inconclusive"),  # the capacities differ, the probe does not
        (KEEPS_UP, None, "gain"),  # no capacity measured: the probe alone
    ],
)
def test_a_gain_needs_the_probe_and_the_capacities_to_agree(
    many: dict[str, float], capacity_ratio: float | None, verdict: str
) -> None:
    gain = judge_gain(2, probe(1, **OVERLOADED), probe(2, **many), capacity_ratio)
    assert gain.verdict == verdict
    assert gain.gained is (verdict == "gain")
    assert gain.describe().startswith(f"{verdict}: capacity x")
    assert gain.to_json()["verdict"] == verdict
