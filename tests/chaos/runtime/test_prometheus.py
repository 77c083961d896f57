"""`--prometheus`: a real Prometheus scrapes every /metrics endpoint of the run."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from chaos.errors import RuntimeFailure
from chaos.runtime import start_system
from chaos.runtime.prometheus import render_config
from tests.chaos.runtime.conftest import SYSTEM
from tests.conftest import require_binary


@pytest.mark.slow
def test_prometheus_scrapes_every_replica(tmp_path: Path) -> None:
    require_binary("prometheus", "sudo apt-get install prometheus")
    with start_system(SYSTEM, run_dir=tmp_path, prometheus=True) as system:
        assert system.prometheus_url is not None
        expected = {("backend", "0"), ("backend", "1"), ("front", "0"), ("gameday-proxy", "0")}
        deadline = time.monotonic() + 45
        seen: dict[tuple[str, str], str] = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(system.prometheus_url + "/api/v1/targets", timeout=5) as r:
                active = json.loads(r.read())["data"]["activeTargets"]
            seen = {(t["labels"]["service"], t["labels"]["replica"]): t["health"] for t in active}
            if set(seen) == expected and set(seen.values()) == {"up"}:
                break
            time.sleep(0.2)
        assert seen == dict.fromkeys(expected, "up")
        query = system.prometheus_url + "/api/v1/query?query=app_requests_total"
        with urllib.request.urlopen(query, timeout=5) as r:
            series = json.loads(r.read())["data"]["result"]
        assert {s["metric"]["service"] for s in series} == {"backend", "front"}
        prometheus = next(row for row in system.status() if row.service == "gameday-prometheus")
        assert prometheus.state == "running" and prometheus.url == system.prometheus_url


def test_a_missing_prometheus_binary_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = r"--prometheus: no prometheus binary on PATH; install"
    with (
        pytest.raises(RuntimeFailure, match=missing),
        start_system(SYSTEM, run_dir=tmp_path / "run", prometheus=True),
    ):
        pass
    assert not (tmp_path / "run").exists()


def test_the_scrape_config_reads_the_targets_file_every_second(tmp_path: Path) -> None:
    text = render_config(tmp_path / "targets.json", interval_s=1.0)
    assert "scrape_interval: 1000ms" in text
    assert f"- {tmp_path / 'targets.json'}" in text


def test_the_game_day_profile_loads_the_projects_rules_and_keeps_exemplars(tmp_path: Path) -> None:
    """The config the runtime writes, with the shop's game-day rules, passes promtool."""
    from chaos.runtime.prometheus import EXEMPLARS, game_day_rules, plan

    root = Path(__file__).parents[3]
    rules = game_day_rules(root)
    assert {p.name for p in rules} == {"slo.rules.yml", "causes.rules.yml"}
    process = plan("/usr/bin/prometheus", tmp_path, 9999, rules=rules)
    assert EXEMPLARS in process.argv
    config = tmp_path / "prometheus" / "prometheus.yml"
    assert all(str(p) in config.read_text() for p in rules)
    promtool = require_binary("promtool", "sudo apt-get install prometheus")
    import subprocess

    (tmp_path / "prometheus" / "targets.json").write_text("[]")
    checked = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert game_day_rules(tmp_path) == []  # a project without dashboards/ gets no rules
