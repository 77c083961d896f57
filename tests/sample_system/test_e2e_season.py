"""The shopping-season experiment end to end on the shop: payments autoscales, nothing else.

Run under the machine's heavy-test lock: flock /tmp/gameday-heavy.lock pytest -m slow ...
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.experiment.file import load_experiment
from chaos.experiment.runner import run_experiment
from tests.support import ROOT

pytestmark = pytest.mark.slow

EXPERIMENT = ROOT / "sample_system" / "experiments" / "shopping-season.yaml"


@pytest.mark.timeout(240)
def test_payments_scales_out_for_the_season_and_back_in(tmp_path: Path) -> None:
    result = run_experiment(load_experiment(EXPERIMENT), run_dir=tmp_path / "season")
    journal = json.loads((result.run_dir / "journal.json").read_text())
    autoscaling = journal["autoscaling"]
    assert autoscaling is not None, journal.get("error")
    claims = {c["claim"]: c for c in autoscaling["checks"]}
    assert claims["payments scales out during the spike"]["held"], claims
    assert claims["payments scales back in after it"]["held"], claims
    assert claims["no other service scales"]["held"], claims
    assert all(c["held"] for c in claims.values()), claims
    assert result.invariants is not None and result.invariants.passed, result.invariants
    assert result.exit_code == 0, (result.status, result.error, journal.get("verdict"))
    assert (result.run_dir / "autoscaling.html").stat().st_size > 100_000  # plotly inlined
