"""The open-model user against a server that stalls once: it sees the stall, Locust does not.

Locust's closed users wait for each response before sending the next request, so a 1.5 s
stall costs each of them one slow request, and Locust's p99 stays low (coordinated
omission). The open-model user keeps its 50/s schedule and measures from the intended
start, so every arrival due during the stall is slow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtests.windows import SampleSet, read_run
from tests.loadtests.locust_cli import LocustRun, LocustRunner
from tests.loadtests.servers import serve


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocustRun, SampleSet]]:
    """One 5 s run of locustfiles/stall.py against a server that stalls 1.5 s, 1 s in."""
    workdir = tmp_path_factory.mktemp("stall")
    for url in serve(stall_after=1.0, stall_for=1.5):
        run = LocustRunner(workdir)(
            "stall.py", url, "-u", "3", "-r", "3", "-t", "5s",
            "--gameday-run-dir", str(workdir / "run"),
        )  # fmt: skip
        assert run.code == 0, run.output[-3000:]
        yield run, read_run(workdir / "run")


def test_a_stall_shows_in_the_open_model_p99_but_not_in_locusts(
    stalled: tuple[LocustRun, SampleSet],
) -> None:
    run, samples = stalled
    assert run.stats["closed"]["max_response_time"] >= 1000, "the stall did not happen"
    # one stalled request must be under 1% of the closed user's requests for p99 to hide it
    assert run.requests("closed") >= 150, "the closed user ran too slowly to show anything"
    assert run.percentile("closed", 0.99) < 500, "Locust's closed user hides the stall"

    opened = samples.stats("open")
    assert opened.count >= 100  # ~50/s for ~4 s
    p99 = opened.percentile_ms(99)
    assert p99 is not None and p99 >= 1000
    slow = sum(n for ms, n in opened.value_counts() if ms >= 500)
    assert slow >= 20  # every arrival due in the first second of the stall waited >= 0.5 s
    # Locust's own table shows the open-model latency from the intended start too
    assert run.percentile("open", 0.99) >= 1000
    # and gameday's samples of the closed user agree with Locust's (same events)
    assert samples.stats("closed").count == run.requests("closed")


def test_arrivals_beyond_max_in_flight_are_dropped_and_counted(
    stalled: tuple[LocustRun, SampleSet],
) -> None:
    run, samples = stalled
    bounded = samples.stats("bounded")
    # ~30 arrivals were due during the stall and only 5 could be in flight
    assert bounded.dropped >= 10
    assert bounded.offered_rate > bounded.throughput
    assert bounded.error_rate >= bounded.dropped / bounded.offered > 0
    assert "bounded: 5 arrivals still running (max_in_flight); dropping" in run.output
    assert f"bounded: {bounded.count} requests, 0 failed, {bounded.dropped} dropped" in run.output
