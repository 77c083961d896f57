"""`gameday run --attach`: an experiment against the system `gameday up` keeps running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.proxy.client import ToxiproxyClient
from tests.support import gameday

HERE = Path(__file__).parent

pytestmark = pytest.mark.slow


def test_attach_runs_against_gameday_up_and_leaves_it_running(tmp_path: Path) -> None:
    up = gameday(tmp_path, "up", str(HERE / "system.yaml"))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        kill = tmp_path / "kill.yaml"
        kill.write_text(
            (HERE / "slow-back.yaml").read_text()
            .replace("system: system.yaml", f"system: {HERE / 'system.yaml'}")
            .replace("locustfile: locustfile.py", f"locustfile: {HERE / 'locustfile.py'}")
            .replace("    kind: latency\n    attributes: {latency: 2s}", "    kind: kill")
            .replace("target: {edge: front->back}", "target: {replica: back/0}")
        )  # fmt: skip
        refused = gameday(tmp_path, "run", "--no-live", "--attach", str(kill))
        assert refused.returncode == 2
        assert "kill or pause processes, which only a run that started the system" in (
            refused.stderr
        )

        run_dir = tmp_path / "run"
        run = gameday(tmp_path, "run", "--no-live", "--attach", "--run-dir", str(run_dir),
                       str(HERE / "slow-back.yaml"))  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        journal = json.loads((run_dir / "journal.json").read_text())
        assert journal["owns_system"] is False
        assert [f["state"] for f in journal["faults"]] == ["removed"]
        assert ToxiproxyClient(journal["toxiproxy"]).toxics("front.back.0") == []
        status = gameday(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr  # still up and healthy
    finally:
        down = gameday(tmp_path, "down")
        assert down.returncode == 0, down.stdout + down.stderr
