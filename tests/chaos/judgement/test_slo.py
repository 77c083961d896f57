"""Evaluating thresholds for the whole run, per window and per chaos phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.judgement.slo import EXIT_BREACH, evaluate
from loadtests.samples import SAMPLES_FILE, SampleAccumulator, SamplesWriter
from loadtests.slo import parse_slo
from loadtests.windows import SampleSet, Window, read_samples

T0 = 1_700_000_000


def _samples(tmp_path: Path, stall_at: int | None = None, seconds: int = 20) -> SampleSet:
    """10 checkout requests/s at 20 ms; 1.5 s and failing during `stall_at`; browse idle."""
    acc = SampleAccumulator()
    for offset in range(seconds):
        for _ in range(10):
            stalled = offset == stall_at
            acc.record("checkout", T0 + offset, 1500.0 if stalled else 20.0, failed=stalled)
    with SamplesWriter(tmp_path / SAMPLES_FILE) as writer:
        writer.write(acc.drain())
    return read_samples(tmp_path / SAMPLES_FILE)


def test_met_over_the_run(tmp_path: Path) -> None:
    spec = parse_slo("journeys: {checkout: {p99: 100ms, error_rate: 1%, min_throughput: 9/s}}")
    verdict = evaluate(spec, _samples(tmp_path))
    assert verdict.passed and verdict.exit_code == 0
    assert {c.metric: c.value for c in verdict.checks} == {
        "p99": pytest.approx(20.0, rel=0.01),
        "error_rate": 0.0,
        "min_throughput": 10.0,
    }


def test_a_stall_breaches_only_in_its_window(tmp_path: Path) -> None:
    """Over 20 s one bad second hides under p95 but not in its own 10 s window."""
    spec = parse_slo("window: 10s\njourneys: {checkout: {p95: 100ms}}\n", source="slo.yaml")
    verdict = evaluate(spec, _samples(tmp_path, stall_at=13))
    by_window = {c.window.name: c.passed for c in verdict.checks}
    assert by_window == {"run": True, "0s-10s": True, "10s-20s": False}
    assert not verdict.passed and verdict.exit_code == EXIT_BREACH
    (breach,) = verdict.breaches
    assert breach.format().startswith("BREACH checkout [10s-20s] p95 <= 100.0ms: observed 1.50s")
    assert "(slo.yaml:2)" in breach.format()


def test_chaos_phases_and_error_rate(tmp_path: Path) -> None:
    samples = _samples(tmp_path, stall_at=12)
    spec = parse_slo("journeys: {checkout: {error_rate: 5%}}")
    phases = [Window("baseline", T0, T0 + 10), Window("fault", T0 + 10, T0 + 15)]
    verdict = evaluate(spec, samples, phases)
    assert [(c.window.name, c.passed, c.observed) for c in verdict.checks] == [
        ("baseline", True, "0.00%"),
        ("fault", False, "20.00%"),
    ]
    fault = {"name": "fault", "start": T0 + 10, "end": T0 + 15}
    assert verdict.to_json()["checks"][1]["window"] == fault


def test_warmup_is_left_out(tmp_path: Path) -> None:
    samples = _samples(tmp_path, stall_at=0)
    assert not evaluate(parse_slo("journeys: {checkout: {p99: 100ms}}"), samples).passed
    assert evaluate(parse_slo("warmup: 1s\njourneys: {checkout: {p99: 100ms}}"), samples).passed


def test_a_journey_without_requests_breaches_and_hints_at_a_typo(tmp_path: Path) -> None:
    spec = parse_slo("journeys: {chekout: {p99: 1s}}", source="slo.yaml")
    (check,) = evaluate(spec, _samples(tmp_path)).checks
    assert not check.passed
    assert "no requests; is the journey name right?" in check.observed


def test_star_covers_every_other_journey_seen(tmp_path: Path) -> None:
    acc = SampleAccumulator()
    acc.record("browse", T0, 900.0, failed=False)
    acc.record("checkout", T0, 10.0, failed=False)
    with SamplesWriter(tmp_path / SAMPLES_FILE) as writer:
        writer.write(acc.drain())
    spec = parse_slo('journeys: {checkout: {p99: 1s}, "*": {p99: 500ms}}')
    verdict = evaluate(spec, read_samples(tmp_path / SAMPLES_FILE))
    assert [(c.journey, c.passed) for c in verdict.checks] == [
        ("checkout", True),
        ("browse", False),
    ]


def test_no_samples_at_all(tmp_path: Path) -> None:
    with SamplesWriter(tmp_path / SAMPLES_FILE):
        pass
    spec = parse_slo("journeys: {checkout: {p99: 1s}}")
    verdict = evaluate(spec, read_samples(tmp_path / SAMPLES_FILE))
    assert not verdict.passed and verdict.format().startswith("SLO breached (1 checks)")
