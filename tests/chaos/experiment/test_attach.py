"""`gameday run --attach`: an experiment against the system `gameday up` keeps running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.proxy.client import ToxiproxyClient
from tests.support import gameday

HERE = Path(__file__).parent


def test_attach_with_nothing_running_fails_before_announcing_a_run(tmp_path: Path) -> None:
    run = gameday(tmp_path, "run", "--no-live", "--attach", str(HERE / "slow-back.yaml"))
    assert run.returncode == 2
    assert "--attach: no running `gameday up`" in run.stderr
    assert "running" not in run.stdout, run.stdout
    assert not (tmp_path / ".gameday" / "runs").exists()


@pytest.mark.slow
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
        # Without --attach, the same: never a second, silent copy of the running system.
        pid = json.loads((tmp_path / ".gameday" / "current.json").read_text())["supervisor"]
        refused = gameday(tmp_path, "run", "--no-live", str(kill))
        assert refused.returncode == 2
        assert (
            f"`gameday up` runs duo here (supervisor pid {pid['pid']}), and slow-back cannot run "
            "against it: faults ["
        ) in refused.stderr
        assert f"Stop it first with `gameday down`, then run `gameday run {kill}` again" in (
            refused.stderr
        )
        assert not list((tmp_path / ".gameday" / "runs").glob("slow-back-*"))  # none started

        quick = gameday(tmp_path, "run", "--no-live", "--run-dir", str(tmp_path / "quick"),
                        str(HERE / "quick.yaml"))  # fmt: skip
        assert quick.returncode in (0, 1), quick.stdout[-3000:] + quick.stderr[-3000:]
        assert f"`gameday up` runs duo here (supervisor pid {pid['pid']}): attaching to it" in (
            quick.stdout
        )
        journal = json.loads((tmp_path / "quick" / "journal.json").read_text())
        up_state = json.loads((tmp_path / ".gameday" / "current.json").read_text())
        assert journal["owns_system"] is False and journal["toxiproxy"] == up_state["toxiproxy"]

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
