"""The open-model user against a server that stalls once: it sees the stall, Locust does not.

Locust's closed users wait for each response before sending the next request, so a 1.5 s
stall costs each of them one slow request, and Locust's p99 stays low (coordinated
omission). The open-model user keeps its 50/s schedule and measures from the intended
start, so every arrival due during the stall is slow.
"""

from __future__ import annotations

from pathlib import Path

from loadtests.windows import read_run
from tests.loadtests.locust_cli import LocustRunner


def test_a_stall_shows_in_the_open_model_p99_but_not_in_locusts(
    stalling_server: str, run_locust: LocustRunner, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run = run_locust(
        "stall.py", stalling_server, "-u", "2", "-r", "2", "-t", "5s",
        "--gameday-run-dir", str(run_dir),
    )  # fmt: skip
    assert run.code == 0, run.output[-3000:]

    assert run.stats["closed"]["max_response_time"] >= 1000, "the stall did not happen"
    # one stalled request must be under 1% of the closed user's requests for p99 to hide it
    assert run.requests("closed") >= 150, "the closed user ran too slowly to show anything"
    assert run.percentile("closed", 0.99) < 500, "Locust's closed user hides the stall"

    samples = read_run(run_dir)
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
