"""`load(...)`: which journeys it can run, which seconds it judges, what it returns (pure)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from chaos.errors import ConfigInvalid
from chaos.judgement.slo import evaluate
from chaos.scale.run import journey_slo
from chaos.system.model import load_system
from chaos.testing.load import LoadResult, journey_driver, judged_window
from loadtests.samples import Sample, parse_line
from loadtests.windows import SampleSet, Window

SYSTEM = Path(__file__).with_name("system.yaml")
NO_LOAD = Path(__file__).parents[1] / "experiment" / "system.yaml"


def test_the_system_file_says_how_to_load_a_journey_alone() -> None:
    profile, driver = journey_driver(load_system(SYSTEM), "dep")
    assert profile.locustfile == SYSTEM.with_name("locustfile.py")
    assert (driver.user_class, driver.rate_env) == ("Dep", "DUO_RATE_DEP")


def test_a_journey_not_in_the_system_file_is_named_with_the_choices() -> None:
    with pytest.raises(
        ConfigInvalid,
        match=r"load\('deb'\): 'deb' is not a journey of .*"
        r"system.yaml \(did you mean 'dep'\?\); load.journeys names fast, dep",
    ):
        journey_driver(load_system(SYSTEM), "deb")  # fmt: skip


def test_a_system_file_without_load_section_says_what_to_add() -> None:
    with pytest.raises(
        ConfigInvalid,
        match=r"has no load: section; add one .* e.g. load: "
        r"\{locustfile: locustfile.py, users: 1, journeys: \{dep: \{user_class: "
        r"DepArrivals, rate_env: RATE_DEP\}\}\}",
    ):
        journey_driver(load_system(NO_LOAD), "dep")  # fmt: skip


def test_only_whole_seconds_after_the_warmup_are_judged() -> None:
    seen = list(range(100, 108))  # 100 started part-way, 107 was cut by the stop
    assert judged_window(seen, warmup=1, seconds=5) == Window("load", 102.0, 107.0)
    assert judged_window(seen, warmup=0, seconds=3) == Window("load", 101.0, 104.0)
    assert judged_window(seen, warmup=1, seconds=60) == Window("load", 102.0, 107.0)
    assert judged_window([100, 101], warmup=1, seconds=5) is None
    assert judged_window([], warmup=1, seconds=5) is None


def _samples() -> SampleSet:
    samples = SampleSet()
    for second in range(100, 106):
        sample = Sample("dep", second)
        for i in range(10):
            failed = second == 103 and i < 2
            sample.record(100.0 + 10 * i, failed=failed, error="503" if failed else None)
        sample.dropped = 1 if second == 104 else 0
        samples.add(parse_line(sample.to_line(), "test"))
    return samples


def test_the_result_holds_counts_percentiles_rates_and_the_slo() -> None:
    samples = _samples()
    window = Window("load", 101.0, 105.0)
    spec = load_system(SYSTEM)
    slo = evaluate(journey_slo(spec, "dep"), samples, [window])
    result = LoadResult.of(samples.stats("dep", window), rate=10.0, slo=slo, run_dir=Path("x"))

    assert (result.seconds, result.count, result.failures, result.dropped) == (4, 40, 2, 1)
    assert result.errors == {"503": 2}
    assert result.error_rate == pytest.approx(3 / 41)
    assert (result.offered_rate, result.achieved_rate) == (41 / 4, 10.0)
    assert 140 <= result.p50 <= 150 and 180 <= result.p95 <= 191 and result.max >= result.p99
    assert not result.meets_slo  # error rate 7.3% > 2%
    assert repr(result) == (
        "LoadResult(dep: 40 requests in 4s, 10/s asked, 10.2/s offered, 10.0/s achieved; "
        f"p50 {result.p50:.0f}ms p95 {result.p95:.0f}ms p99 {result.p99:.0f}ms; errors 7.3% "
        "{'503': 2}, 1 dropped; SLO BREACHED: error_rate <= 2.00% observed 7.32%)"
    )


def test_with_no_completed_request_percentiles_are_nan_so_comparisons_fail() -> None:
    samples = SampleSet([parse_line({"journey": "dep", "second": 101, "dropped": 5}, "t")])
    window = Window("load", 101.0, 102.0)
    slo = evaluate(journey_slo(load_system(SYSTEM), "dep"), samples, [window])
    result = LoadResult.of(samples.stats("dep", window), rate=None, slo=slo, run_dir=Path("x"))
    assert math.isnan(result.p95) and not result.p95 < 300 and not result.p95 >= 300
    assert result.error_rate == 1.0 and not result.meets_slo
