"""The shop's locustfile against the real shop: every journey answers, in both load models, and
each journey makes every request it claims (the gateway's own metrics say so).

Starts the whole shop: run under the machine's heavy-test lock,
    flock /tmp/gameday-heavy.lock pytest tests/loadtests/test_shop_locustfile.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.runtime.system import RunningSystem, start_system
from loadtests.windows import SampleSet, read_run
from tests.loadtests.shop_journeys import ROOT, answered_routes, declared_routes

JOURNEYS = ("browse", "checkout", "product", "reviews")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with start_system(ROOT / "sample_system" / "system.yaml",
                      run_dir=tmp_path_factory.mktemp("shop")) as system:  # fmt: skip
        yield system


def run_locust(
    shop: RunningSystem, run_dir: Path, model: str, *args: str, env: dict[str, str] | None = None
) -> tuple[SampleSet, str]:
    """Run the shop's locustfile headless; its samples and the tail of its output."""
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
         "--headless", "--host", shop.url("gateway"), "--stop-timeout", "2",
         "--gameday-run-dir", str(run_dir), *args],
        cwd=ROOT, env={**os.environ, "SHOP_LOAD_MODEL": model, **(env or {})},
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=90,
    )  # fmt: skip
    return read_run(run_dir), done.stderr[-3000:]


def test_every_journey_succeeds_in_the_closed_model(shop: RunningSystem, tmp_path: Path) -> None:
    args = ("-u", "4", "-r", "4", "-t", "6s")
    samples, output = run_locust(shop, tmp_path / "load", "closed", *args)
    for journey in samples.journeys:
        stats = samples.stats(journey)
        assert stats.count > 0
        assert stats.failures == 0, (journey, stats.errors, output)
    assert {"browse", "product"} <= set(samples.journeys)


@pytest.mark.parametrize("journey", JOURNEYS)
def test_a_journey_alone_succeeds_and_hits_every_route_it_claims(
    shop: RunningSystem, tmp_path: Path, journey: str
) -> None:
    # One open-model user of this journey only, so what the gateway answered meanwhile is
    # this journey's doing: its routes, every one of them, and no other.
    gateway = shop.url("gateway")
    before = answered_routes(gateway)
    samples, output = run_locust(
        shop, tmp_path / "load", "open", f"{journey.capitalize()}Arrivals",
        "-u", "1", "-r", "1", "-t", "2s", env={f"SHOP_RATE_{journey.upper()}": "6"},
    )  # fmt: skip
    assert samples.journeys == (journey,), output
    stats = samples.stats(journey)
    assert stats.count >= 6, output
    assert (stats.failures, stats.dropped) == (0, 0), (stats.errors, output)
    answered = answered_routes(gateway) - before
    assert set(answered) == set(declared_routes()[journey]), answered
