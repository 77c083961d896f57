"""The shop's locustfile against the real shop: every journey answers, in both load models."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.runtime.system import RunningSystem, start_system
from loadtests.windows import read_run

ROOT = Path(__file__).resolve().parent.parent.parent
JOURNEYS = ("browse", "checkout", "product", "reviews")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with start_system(ROOT / "sample_system" / "system.yaml",
                      run_dir=tmp_path_factory.mktemp("shop")) as system:  # fmt: skip
        yield system


@pytest.mark.parametrize("model", ["open", "closed"])
def test_every_journey_succeeds(shop: RunningSystem, tmp_path: Path, model: str) -> None:
    run_dir = tmp_path / "load"
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
         "--headless", "--host", shop.url("gateway"), "-u", "4", "-r", "4", "-t", "6s",
         "--stop-timeout", "2", "--gameday-run-dir", str(run_dir)],
        cwd=ROOT, env={**os.environ, "SHOP_LOAD_MODEL": model}, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=90,
    )  # fmt: skip
    samples = read_run(run_dir)
    assert set(samples.journeys) == set(JOURNEYS) or model == "closed", done.stderr[-3000:]
    for journey in samples.journeys:
        stats = samples.stats(journey)
        assert stats.count > 0
        assert stats.failures == 0, (journey, stats.errors, done.stderr[-3000:])
    assert {"browse", "product"} <= set(samples.journeys)
