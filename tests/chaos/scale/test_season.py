"""Judging an autoscaling run from its events and samples (synthetic, no system started)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.experiment.model import AutoscalingClaim
from chaos.runtime.events import EventLog
from chaos.scale.season import judge_autoscaling, within_slo_from
from chaos.system.model import parse_system
from tests.chaos.judgement.synthetic import T0, Load

SYSTEM = """\
name: shop
services:
  front: {command: "x --port {port}", public: true, depends_on: [pay]}
  pay:
    command: "x --port {port}"
    replicas: 2
    autoscale: {min: 2, max: 4, metric: busy, target: 0.6}
journeys:
  browse: {p95: 300ms, error_rate: 1%}
  checkout: {p95: 800ms, error_rate: 2%}
"""
# seconds from T0: warm-up and baseline 0-15, the spike 15-35, after it 35-50
WINDOWS = {
    "warmup": (T0 + 0.0, T0 + 5.0),
    "baseline": (T0 + 5.0, T0 + 15.0),
    "fault": (T0 + 15.2, T0 + 35.2),
    "recovery": (T0 + 35.2, T0 + 50.2),
}
CLAIM = AutoscalingClaim(scales=("pay",), within_slo_after=10.0)


SPEC = parse_system(SYSTEM, source="system.yaml")


def _events(run_dir: Path, changes: list[tuple[float, str, int, int]]) -> None:
    times: Iterator[float] = iter(T0 + t for t, *_ in changes)
    log = EventLog(run_dir / "events.jsonl", clock=lambda: next(times))
    for _, service, before, after in changes:
        log.emit("scaled", service, after - 1, detail=f"{before} -> {after} in 1.9s")


def _season(slow_until: int, slow_tail: range | None = None) -> Load:
    """browse flat; checkout slow from the spike's start (s 15) until `slow_until`."""
    load = Load(seed=7)
    load.add("browse", range(0, 51), median_ms=30, per_second=10)
    load.add("checkout", range(0, 15), median_ms=150, per_second=4)
    load.add("checkout", range(15, slow_until), median_ms=1500, per_second=24)
    load.add("checkout", range(slow_until, 36), median_ms=250, per_second=24)
    load.add("checkout", range(36, 51), median_ms=150, per_second=4)
    if slow_tail is not None:
        load.add("checkout", slow_tail, median_ms=3000, per_second=13)
    return load


def test_a_season_that_scales_out_in_time_and_back_holds(tmp_path: Path) -> None:
    _events(tmp_path, [(19.5, "pay", 2, 4), (46.0, "pay", 4, 2)])
    verdict = judge_autoscaling(CLAIM, SPEC, tmp_path, _season(slow_until=21).samples, WINDOWS)
    assert verdict.passed, verdict.format()
    assert "first: 2 -> 4 at +4.3s" in verdict.format()
    assert "checkout from +6s" in verdict.format()  # 21 - 15.2, whole seconds


def test_checkout_still_slow_after_the_bound_is_caught(tmp_path: Path) -> None:
    _events(tmp_path, [(19.5, "pay", 2, 4), (46.0, "pay", 4, 2)])
    verdict = judge_autoscaling(CLAIM, SPEC, tmp_path, _season(slow_until=30).samples, WINDOWS)
    held = {claim: ok for claim, ok, _ in verdict.checks}
    assert not held["every journey within SLO from +10s after the spike starts"]
    assert held["pay scales out during the spike"]


def test_a_slow_end_of_the_spike_is_not_hidden_by_the_quiet_after_it(
    tmp_path: Path,
) -> None:
    # 13 slow checkouts at the end of the spike: 5.7 % of the rest of the spike (p95 breached),
    # 4.5 % of it with the 60 checkouts after the spike (p95 met, the slow end hidden)
    samples = _season(slow_until=21, slow_tail=range(34, 35)).samples
    _events(tmp_path, [(19.5, "pay", 2, 4), (46.0, "pay", 4, 2)])
    verdict = judge_autoscaling(CLAIM, SPEC, tmp_path, samples, WINDOWS)
    assert not verdict.passed
    assert "[rest of the spike]" in verdict.format()


def test_no_scale_out_another_service_scaling_and_no_scale_in_are_each_caught(
    tmp_path: Path,
) -> None:
    _events(tmp_path, [(40.0, "pay", 2, 3), (41.0, "front", 1, 2)])
    verdict = judge_autoscaling(CLAIM, SPEC, tmp_path, _season(slow_until=21).samples, WINDOWS)
    held = {claim: (ok, seen) for claim, ok, seen in verdict.checks}
    assert held["pay scales out during the spike"] == (False, "first: none")
    assert held["pay scales back in after it"] == (False, "2 at the start, 3 at the end")
    assert held["no other service scales"] == (False, "front")


def test_within_slo_from_is_none_when_the_journey_never_recovers() -> None:
    samples = _season(slow_until=36).samples
    assert SPEC.slo is not None
    spike, end = WINDOWS["fault"], T0 + 50.2
    assert within_slo_from(SPEC.slo, samples, "checkout", *spike, end) is None
    assert within_slo_from(SPEC.slo, samples, "browse", *spike, end) == pytest.approx(0.8)
