"""The rules: promtool accepts them, their unit tests pass, and those tests can fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards.slo import PROFILES
from tests.conftest import require_binary

RULES = Path(__file__).parents[2] / "dashboards" / "rules"
HINT = "apt-get install prometheus (promtool)"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool", HINT)
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("profile", [p.name for p in PROFILES])
def test_promtool_check_rules_is_clean(profile: str):
    result = promtool("check", "rules", *map(str, sorted((RULES / profile).glob("*.rules.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("profile", [p.name for p in PROFILES])
def test_promtool_unit_tests_pass(profile: str):
    result = promtool("test", "rules", str(RULES / profile / "tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("profile", [p.name for p in PROFILES])
def test_every_alert_is_tested_firing_and_not_firing(profile: str):
    alerts = {
        rule["alert"]
        for name in ("slo.rules.yml", "causes.rules.yml")
        for group in yaml.safe_load((RULES / profile / name).read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    checks = [
        check
        for case in yaml.safe_load((RULES / profile / "tests.yml").read_text())["tests"]
        for check in case["alert_rule_test"]
    ]
    firing = {c["alertname"] for c in checks if c["exp_alerts"]}
    silent = {c["alertname"] for c in checks if not c["exp_alerts"]}
    assert alerts <= firing, f"never tested firing: {sorted(alerts - firing)}"
    assert alerts <= silent, f"never tested not firing: {sorted(alerts - silent)}"


def test_a_broken_burn_rate_fails_the_unit_tests(tmp_path: Path):
    """The unit tests can fail: a page that needs a 99x burn never fires where 14.4x should."""
    for name in ("slo.rules.yml", "causes.rules.yml", "tests.yml"):
        shutil.copy(RULES / "gameday" / name, tmp_path / name)
    slo = tmp_path / "slo.rules.yml"
    slo.write_text(slo.read_text().replace("> (14.4 *", "> (99 *").replace("> (6.0 *", "> (99 *"))
    result = promtool("test", "rules", str(tmp_path / "tests.yml"))
    assert result.returncode != 0
    assert "burns: its alerts only" in result.stdout + result.stderr


def test_a_breaker_alert_on_the_wrong_edge_fails_the_unit_tests(tmp_path: Path):
    for name in ("slo.rules.yml", "causes.rules.yml", "tests.yml"):
        shutil.copy(RULES / "gameday" / name, tmp_path / name)
    causes = tmp_path / "causes.rules.yml"
    causes.write_text(causes.read_text().replace('state="open"})', 'state="closed"})'))
    result = promtool("test", "rules", str(tmp_path / "tests.yml"))
    assert result.returncode != 0
    assert "CircuitBreakerOpen" in result.stdout + result.stderr
