"""Verdict statistics on synthetic samples: real shifts are found, noise is not."""

from __future__ import annotations

import pytest

from chaos.experiment.model import Degraded, Hypothesis
from chaos.judgement.statistics import compare
from chaos.judgement.verdict import Outcome, Phases, judge, time_to_recover
from loadtests.slo import parse_slo
from loadtests.windows import Window
from tests.chaos.judgement.synthetic import T0, Load

SLO = parse_slo(
    """
journeys:
  browse: {p95: 200ms, error_rate: 2%}
  checkout: {p95: 800ms, error_rate: 5%}
"""
)
PHASES = Phases(
    baseline=Window("baseline", T0, T0 + 20),
    fault=Window("fault", T0 + 20, T0 + 40),
    recovery=Window("recovery", T0 + 40, T0 + 60),
)


HYPOTHESIS = Hypothesis(steady=("browse",), degraded=(Degraded("checkout", 300.0, ("503",)),))


@pytest.mark.parametrize("seed", range(20))
def test_noise_is_not_a_finding(seed: int) -> None:
    load = Load(seed)
    load.add("browse", range(60))
    load.add("checkout", range(60), median_ms=60, error_rate=0.01)
    verdict = judge(HYPOTHESIS, SLO, load.samples, PHASES)
    assert verdict.outcome is Outcome.HELD, [j.problems for j in verdict.journeys]
    assert not verdict.deviated


def test_a_real_latency_shift_is_detected() -> None:
    load = Load(1)
    load.add("browse", range(20))
    load.add("browse", range(20, 40), median_ms=70)  # 3.5x slower, still inside the SLO
    load.add("browse", range(40, 60))
    load.add("checkout", range(60), median_ms=60)
    verdict = judge(HYPOTHESIS, SLO, load.samples, PHASES)
    browse = verdict.journeys[0]
    assert browse.slo_met("fault")
    assert browse.comparison.latency_p_value is not None
    assert browse.comparison.latency_p_value < 1e-6
    assert any("latency deviated" in p for p in browse.problems)
    assert verdict.outcome is Outcome.REJECTED and verdict.outcome.exit_code == 1


def test_a_significant_but_tolerated_shift_passes() -> None:
    load = Load(2)
    load.add("browse", range(20))
    load.add("browse", range(20, 40), median_ms=24)  # 20 % slower: significant, tolerated
    load.add("browse", range(40, 60))
    load.add("checkout", range(60), median_ms=60)
    browse = judge(HYPOTHESIS, SLO, load.samples, PHASES).journeys[0]
    assert browse.comparison.latency_p_value is not None
    assert browse.comparison.latency_p_value < 0.01
    assert browse.passed


def test_error_increase_is_tested_for_significance() -> None:
    baseline = Load(3)
    baseline.add("browse", range(20), error_rate=0.005)
    baseline.add("browse", range(20, 40), error_rate=0.10)
    more = compare(
        baseline.samples.stats("browse", PHASES.baseline),
        baseline.samples.stats("browse", PHASES.fault),
    )
    assert more.error_p_value is not None and more.error_p_value < 1e-6
    assert more.errors_deviate(0.01)

    similar = Load(4)
    similar.add("browse", range(20), error_rate=0.005)
    similar.add("browse", range(20, 40), error_rate=0.007)
    same = compare(
        similar.samples.stats("browse", PHASES.baseline),
        similar.samples.stats("browse", PHASES.fault),
    )
    assert not same.errors_deviate(0.01)


def test_degraded_journey_must_fail_fast_and_cleanly() -> None:
    def run(failed_ms: float, error: str) -> list[str]:
        load = Load(5)
        load.add("browse", range(60))
        load.add("checkout", range(20), median_ms=60)
        load.add("checkout", range(20, 40), error_rate=1.0, failed_ms=failed_ms, error=error)
        load.add("checkout", range(40, 60), median_ms=60)
        return list(judge(HYPOTHESIS, SLO, load.samples, PHASES).journeys[1].problems)

    assert run(40, "503") == []
    assert any("not fast: p95" in p for p in run(2500, "503"))
    assert any("unexpected failure kinds {'ReadTimeout'" in p for p in run(40, "ReadTimeout"))


def test_a_baseline_outside_its_slo_is_its_own_verdict() -> None:
    load = Load(6)
    load.add("browse", range(60), median_ms=400)  # p95 far above 200 ms all along
    load.add("checkout", range(60), median_ms=60)
    verdict = judge(HYPOTHESIS, SLO, load.samples, PHASES)
    assert verdict.outcome is Outcome.NOT_STEADY
    assert verdict.outcome.exit_code == 3
    assert "outside its SLO in the baseline" in verdict.journeys[0].problems[0]


def test_time_to_recover_counts_the_bad_seconds_after_removal() -> None:
    load = Load(7)
    load.add("browse", range(40))
    load.add("browse", range(40, 46), error_rate=0.5)  # six bad seconds after removal
    load.add("browse", range(46, 60))
    assert time_to_recover(load.samples, "browse", SLO, PHASES.recovery) == 6.0

    never = Load(8)
    never.add("browse", range(40))
    never.add("browse", range(40, 60), error_rate=0.5)
    assert time_to_recover(never.samples, "browse", SLO, PHASES.recovery) is None

    hypothesis = Hypothesis(steady=("browse",), recover_within=3.0)
    verdict = judge(hypothesis, SLO, load.samples, PHASES)
    assert any("took 6s" in p for p in verdict.journeys[0].problems)


def test_a_degraded_journey_that_succeeds_slowly_is_not_fast() -> None:
    load = Load(9)
    load.add("browse", range(60))
    load.add("checkout", range(20), median_ms=60)
    load.add("checkout", range(20, 40), median_ms=2000)  # no timeout: waits instead of failing
    load.add("checkout", range(40, 60), median_ms=60)
    checkout = judge(HYPOTHESIS, SLO, load.samples, PHASES).journeys[1]
    assert any("not fast: p95" in p for p in checkout.problems)


def test_phase_windows_keep_only_whole_seconds() -> None:
    from chaos.experiment.runner import whole_seconds

    window = whole_seconds("baseline", 1000.50, 1006.50)
    assert (window.start, window.end) == (1001.0, 1006.0)
    assert [s for s in range(998, 1010) if window.contains(s)] == list(range(1001, 1006))
    assert whole_seconds("fault", 1000.2, 1000.7).seconds == 0
