"""The pytest plugin used from tests (pytester): a real two-service system, real faults, real load.

The inner sessions start tests/chaos/testing/system.yaml (front -> back, 2 replicas of back),
each once. Run under the machine's heavy-test lock:
flock /tmp/gameday-heavy.lock pytest tests/chaos/testing
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from chaos.runtime.state import leftovers

SYSTEM = Path(__file__).with_name("system.yaml")
QUIET = "asyncio_default_fixture_loop_scope = function\n"  # pytest-asyncio asks for it


def _journal(root: Path) -> dict[str, Any]:
    (path,) = root.glob(".gameday/runs/pytest-duo-*/journal.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _assert_cleaned_up(journal: dict[str, Any]) -> None:
    """Every fault removed, nothing of the system left running."""
    assert journal["faults"], "the session injected no fault"
    assert {f["state"] for f in journal["faults"]} == {"removed"}, journal["faults"]
    assert leftovers({"run_dir": journal["run_dir"]}) == []


@pytest.fixture
def configured(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(f"[pytest]\ngameday_system = {SYSTEM}\n{QUIET}")
    return pytester


def test_the_plugin_is_registered_through_its_entry_point(pytester: pytest.Pytester) -> None:
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins["gameday"] == "chaos.testing.plugin"
    pytester.makeini(f"[pytest]\n{QUIET}")
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["gameday:*", "*--gameday-system=PATH*", "*--gameday-attach*"])


def test_without_a_system_file_the_error_says_how_to_name_one(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\n{QUIET}")
    pytester.makepyfile("def test_it(gameday_system):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gameday: no system file; pass --gameday-system PATH, set*"])
    result = pytester.runpytest("--gameday-system", "nowhere.yaml")
    result.stdout.fnmatch_lines(["*gameday: system file */nowhere.yaml (from --gameday-system)*"])


INNER_TESTS = """
import pytest


def test_down_callee_fails_fast_and_the_rest_holds(fault, load):
    with fault("back", "down"):
        dep = load("dep", rate=20, seconds=1, warmup=0)
        fast = load("fast", rate=20, seconds=1, warmup=0)
    assert dep.count >= 15 and dep.errors == {"503": dep.count} and dep.p95 < 500
    assert fast.meets_slo and fast.errors == {}


def test_a_failed_assertion_on_a_load(fault, load):
    with fault("front->back", "latency", latency="800ms"):
        assert load("dep", rate=10, seconds=1, warmup=0).p95 < 300


def clean(system):
    return all(p.enabled and not p.toxics for p in system.toxiproxy.proxies().values())


@pytest.mark.parametrize("error", [AssertionError, RuntimeError, KeyboardInterrupt])
def test_leaving_the_block_with_an_error_removes_the_fault(fault, gameday_system, error):
    with pytest.raises(error):
        with fault("back/0", "reset_peer"):
            assert not clean(gameday_system)
            raise error("boom")
    assert clean(gameday_system)  # at once, not at teardown


def test_a_replica_killed_and_started_again(fault, gameday_system):
    with fault("back/1", "kill"):
        assert gameday_system.runtime.state("back", 1) == "stopped"
    assert gameday_system.runtime.state("back", 1) == "running"


def test_load_after_faults_meets_the_slo(load):
    assert load("dep", rate=20, seconds=1, warmup=0).meets_slo


def test_a_mistyped_target(fault):
    fault("bak", "down")
"""


@pytest.mark.slow
def test_faults_and_load_from_tests(configured: pytest.Pytester) -> None:
    configured.makepyfile(test_inner=INNER_TESTS)
    result = configured.runpytest()
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        [
            # a failed comparison shows the whole result, and what the fixtures did
            "*assert * < 300",
            "*where * = LoadResult(dep: * requests in 1s, 10/s asked, *; errors 100.0% "
            "{'503': *}; SLO BREACHED: *).p95",
            "*Captured gameday call*",
            "*fault('front->back', 'latency', latency='800ms') applied: latency toxic "
            "gameday-pytest-2-latency on front.back.0, *",
            "*fault('front->back', 'latency', latency='800ms') removed",
            "*ConfigInvalid: fault('bak', 'down'): target 'bak': 'bak' is not a service "
            "(did you mean 'back'?)*",
        ]
    )
    journal = _journal(configured.path)
    assert journal["status"] == "completed" and journal["kind"] == "pytest"
    assert journal["owner"]["pid"] == os.getpid()  # in-process: this is the session's process
    kinds = [f["kind"] for f in journal["faults"]]
    assert kinds == ["down", "latency", "reset_peer", "reset_peer", "reset_peer", "kill"]
    _assert_cleaned_up(journal)


@pytest.mark.slow
def test_ctrl_c_inside_the_block_removes_the_fault(configured: pytest.Pytester) -> None:
    configured.makepyfile(
        """
        def test_interrupted(fault):
            with fault("back", "down"):
                raise KeyboardInterrupt
        """
    )
    result = configured.runpytest(no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    _assert_cleaned_up(_journal(configured.path))


def _session_holding_a_fault(configured: pytest.Pytester) -> subprocess.Popen[bytes]:
    """An inner pytest session whose test sits inside a `fault` block until signalled."""
    configured.makepyfile(
        """
        import time

        def test_held(fault):
            with fault("back", "latency", latency=900):
                time.sleep(60)
        """
    )
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=configured.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not any(f["state"] == "applied" for f in _journal_or_none(configured.path)):
        if session.poll() is not None or time.monotonic() > deadline:
            session.kill()
            pytest.fail(f"the fault was never applied: {session.communicate()[0].decode()}")
        time.sleep(0.1)
    return session


@pytest.mark.slow
def test_sigterm_to_the_session_removes_the_fault_and_stops_the_system(
    configured: pytest.Pytester,
) -> None:
    session = _session_holding_a_fault(configured)
    try:
        session.send_signal(signal.SIGTERM)
        output = session.communicate(timeout=60)[0].decode()
    finally:
        if session.poll() is None:
            session.kill()
    assert session.returncode == 143, output
    assert "gameday: SIGTERM; stopping the session" in output
    _assert_cleaned_up(_journal(configured.path))


@pytest.mark.slow
def test_a_killed_session_is_rolled_back_by_its_watchdog(configured: pytest.Pytester) -> None:
    session = _session_holding_a_fault(configured)
    session.kill()  # no cleanup of its own
    session.communicate(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _journal(configured.path)["status"] == "running":
        time.sleep(0.2)
    journal = _journal(configured.path)
    assert journal["status"] == "crashed", journal
    while time.monotonic() < deadline and leftovers({"run_dir": journal["run_dir"]}):
        time.sleep(0.2)
    assert leftovers({"run_dir": journal["run_dir"]}) == []


@pytest.mark.slow
def test_attached_to_gameday_up_proxy_faults_only_and_it_keeps_running(
    configured: pytest.Pytester,
) -> None:
    gameday = [sys.executable, "-m", "chaos.cli"]
    up = subprocess.run([*gameday, "up", str(SYSTEM)], cwd=configured.path, capture_output=True,
                        text=True, timeout=120)  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        configured.makepyfile(
            """
            import pytest
            from chaos.errors import ConfigInvalid

            def test_attached(fault, load, gameday_system):
                assert not gameday_system.owns
                with fault("back", "down"):
                    assert set(load("dep", rate=20, seconds=1, warmup=0).errors) == {"503"}
                with pytest.raises(ConfigInvalid, match="only a session that started the system"):
                    fault("back/1", "kill")
            """
        )
        configured.runpytest("--gameday-attach").assert_outcomes(passed=1)
        journal = _journal(configured.path)
        assert journal["owns_system"] is False
        assert {f["state"] for f in journal["faults"]} == {"removed"}
        status = subprocess.run([*gameday, "status"], cwd=configured.path, timeout=60)
        assert status.returncode == 0  # still running, every process ready
    finally:
        subprocess.run([*gameday, "down"], cwd=configured.path, capture_output=True, timeout=60)


def _journal_or_none(root: Path) -> list[dict[str, Any]]:
    try:
        faults: list[dict[str, Any]] = _journal(root)["faults"]
    except (ValueError, FileNotFoundError):  # not there yet, or mid-write
        return []
    return faults
