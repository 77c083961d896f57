"""The stock `locust` command with the gameday plugin: exit codes, samples, workers."""

from __future__ import annotations

import json
from pathlib import Path

from loadtests.samples import SAMPLES_FILE
from loadtests.windows import read_run
from tests.loadtests.locust_cli import LocustRunner

MET = """\
journeys:
  browse: {p99: 5s, error_rate: 0%}
  checkout: {p99: 5s, min_throughput: 5/s}
"""
BREACHED = """\
journeys:
  browse: {p99: 5s}
  checkout:
    min_throughput: 100000/s
"""


def _slo(tmp_path: Path, text: str) -> str:
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    return str(path)


def test_slo_met_exits_0_and_samples_match_locusts_counts(
    http_server: str, run_locust: LocustRunner, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run = run_locust(
        "tiny.py", http_server, "-u", "2", "-r", "10", "-t", "3s",
        "--gameday-run-dir", str(run_dir), "--gameday-slo", _slo(tmp_path, MET),
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert "gameday: SLO met" in run.output

    samples = read_run(run_dir)
    assert samples.journeys == ("browse", "checkout")
    for journey in samples.journeys:
        assert samples.stats(journey).count == run.requests(journey) > 0
    assert len(samples.seconds("checkout")) >= 2  # per-second, not one lump
    verdict = json.loads((run_dir / "slo-verdict.json").read_text())
    assert verdict["passed"] is True and verdict["exit_code"] == 0
    assert {c["journey"] for c in verdict["checks"]} == {"browse", "checkout"}
    assert json.loads((run_dir / "load.json").read_text())["shape"] == "steady"


def test_slo_breach_exits_99(http_server: str, run_locust: LocustRunner, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run = run_locust(
        "tiny.py", http_server, "-u", "2", "-r", "10", "-t", "2s",
        "--gameday-run-dir", str(run_dir), "--gameday-slo", _slo(tmp_path, BREACHED),
    )  # fmt: skip
    assert run.code == 99, run.output[-3000:]
    assert "BREACH checkout [run] min_throughput >= 100000.00/s" in run.output
    assert "slo.yaml:4" in run.output
    verdict = json.loads((run_dir / "slo-verdict.json").read_text())
    assert verdict["passed"] is False and verdict["exit_code"] == 99
    assert (run_dir / SAMPLES_FILE).stat().st_size > 0


def test_bad_options_exit_2_before_any_load(
    http_server: str, run_locust: LocustRunner, tmp_path: Path
) -> None:
    bad = _slo(tmp_path, "journeys:\n  browse:\n    p99: quick\n")
    run = run_locust("tiny.py", http_server, "-t", "5s", "--gameday-slo", bad)
    assert run.code == 2
    assert f"{bad}:3: p99: 'quick' is not a duration" in run.output
    run = run_locust("tiny.py", http_server, "-t", "5s", "--gameday-shape", "wave")
    assert run.code == 2
    assert "unknown shape 'wave' (--gameday-shape / GAMEDAY_SHAPE)" in run.output


def test_processes_merge_every_workers_samples(
    http_server: str, run_locust: LocustRunner, tmp_path: Path
) -> None:
    """With --processes 2 the master's file holds both workers' requests, none twice."""
    run_dir = tmp_path / "run"
    run = run_locust(
        "tiny.py", http_server, "--processes", "2", "-u", "4", "-r", "20", "-t", "4s",
        "--gameday-run-dir", str(run_dir),
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    samples = read_run(run_dir)
    for journey in ("browse", "checkout"):
        assert samples.stats(journey).count == run.requests(journey) > 0
    # both workers ran open-model users (2 Checkout users at 20/s): about 40/s in all
    assert samples.stats("checkout").offered_rate > 25


def test_the_season_shape_spikes_checkout_users_only(
    http_server: str, run_locust: LocustRunner, tmp_path: Path
) -> None:
    """1 Browse + 1 Checkout user, then 2 more users for 2 s: Checkout ones only.

    The shape ends the run by itself (no -t). One Browse user makes at most 20 requests
    a second (wait 0.05 s); each Checkout user offers 20 arrivals a second.
    """
    run_dir = tmp_path / "run"
    run = run_locust(
        "tiny.py", http_server, "--gameday-shape", "season", "--gameday-users", "2",
        "--gameday-spike-users", "2", "--gameday-spike-at", "1s", "--gameday-spike-for", "2s",
        "--gameday-duration", "4s", "--gameday-run-dir", str(run_dir),
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]
    assert "Shape test updating to 4 users" in run.output
    assert "Shape test stopping" in run.output
    samples = read_run(run_dir)
    checkout = [s.offered for s in samples.per_second("checkout")]
    browse = [s.count for s in samples.per_second("browse")]
    assert max(checkout) >= 45, checkout  # 3 Checkout users at 20/s during the spike
    assert max(browse) <= 30, browse  # still a single Browse user


def test_failures_are_counted_by_kind(
    http_server: str, run_locust: LocustRunner, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run = run_locust(
        "failing.py", http_server, "-u", "2", "-r", "10", "-t", "2s",
        "--gameday-run-dir", str(run_dir),
    )  # fmt: skip
    samples = read_run(run_dir)
    for journey in ("broken", "broken-open"):
        stats = samples.stats(journey)
        assert stats.failures == stats.count > 0, run.output[-2000:]
        assert stats.errors == {"500": stats.count}
