"""`gameday run --attach`: an experiment against the system `gameday up` keeps running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.proxy.client import ToxiproxyClient

HERE = Path(__file__).parent
ROOT = HERE.parent.parent.parent

pytestmark = pytest.mark.slow


def _gameday(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout,
    )  # fmt: skip


def test_attach_runs_against_gameday_up_and_leaves_it_running(tmp_path: Path) -> None:
    up = _gameday(tmp_path, "up", str(HERE / "system.yaml"))
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
        refused = _gameday(tmp_path, "run", "--no-live", "--attach", str(kill))
        assert refused.returncode == 2
        assert "kill or pause processes, which only a run that started the system" in (
            refused.stderr
        )

        run_dir = tmp_path / "run"
        run = _gameday(tmp_path, "run", "--no-live", "--attach", "--run-dir", str(run_dir),
                       str(HERE / "slow-back.yaml"))  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        journal = json.loads((run_dir / "journal.json").read_text())
        assert journal["owns_system"] is False
        assert [f["state"] for f in journal["faults"]] == ["removed"]
        assert ToxiproxyClient(journal["toxiproxy"]).toxics("front.back.0") == []
        status = _gameday(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr  # still up and healthy
    finally:
        down = _gameday(tmp_path, "down")
        assert down.returncode == 0, down.stdout + down.stderr
