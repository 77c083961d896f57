"""LoadProcess: the load as a child process, stopped with SIGTERM, samples still written."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from loadtests.runner import LOG_FILE, LoadProcess, LoadSpec
from loadtests.windows import read_run
from tests.loadtests.locust_cli import LOCUSTFILES


@pytest.mark.parametrize("how", ["stop", "SIGTERM", "stop, started with SIGINT ignored"])
def test_stop_ends_an_open_ended_load_and_keeps_its_samples(
    how: str, http_server: str, tmp_path: Path
) -> None:
    """LoadProcess.stop() (SIGINT), or a SIGTERM from elsewhere, still writes everything.

    A parent started as a background job of a non-interactive shell (CI, `cmd &`) has SIGINT
    ignored, and its children inherit that: stop() must work all the same.
    """
    run_dir = tmp_path / "run"
    spec = LoadSpec(
        locustfile=LOCUSTFILES / "tiny.py", host=http_server, run_dir=run_dir, users=2
    )  # steady and no duration: it runs until stopped
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if "ignored" in how else None
    try:
        load = LoadProcess.start(spec, cwd=tmp_path)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    with load:
        deadline = time.monotonic() + 30
        while not (run_dir / "samples.jsonl").exists() or not load.samples().journeys:
            assert load.poll() is None, (run_dir / LOG_FILE).read_text()[-3000:]
            assert time.monotonic() < deadline, "no samples within 30 s"
            time.sleep(0.1)  # polling the file the load process writes
        seen = load.samples().stats("checkout").count
        if how == "SIGTERM":
            os.kill(load.pid, signal.SIGTERM)
            code = load.wait(timeout=30)
        else:
            code = load.stop()
    assert code == 0, (run_dir / LOG_FILE).read_text()[-3000:]
    assert read_run(run_dir).stats("checkout").count >= seen
    info = json.loads((run_dir / "load.json").read_text())
    assert info["stopped"] >= info["started"]
