"""The live view renders the phase, the faults and per-journey figures of the last seconds."""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console

from chaos.experiment.file import load_experiment
from chaos.report.live import LiveDisplay
from loadtests.samples import Sample, parse_line
from loadtests.windows import SampleSet

HERE = Path(__file__).parents[1] / "experiment"


def test_the_live_view_shows_phase_faults_and_recent_figures() -> None:
    experiment = load_experiment(HERE / "slow-back.yaml")
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    samples = SampleSet()
    now = int(time.time())
    for second in range(now - 6, now):
        sample = Sample("dep", second)
        for i in range(10):
            sample.record(40.0 + i, failed=i < 2, error="503" if i < 2 else None)
        samples.add(parse_line(sample.to_line(), "test"))
    with LiveDisplay(experiment, console=console) as display:
        display.phase("fault", time.time() + 5)
        display.fault(experiment.faults[0], "applied")
        display.tick(samples, float(now))
    text = out.getvalue()
    assert "slow-back" in text and "fault" in text
    assert "latency-front->back applied" in text
    assert "dep" in text and "20.0%" in text and "10.0" in text  # errors, req/s
