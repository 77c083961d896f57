"""The journal: written before each fault, read back after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.experiment.model import Fault
from chaos.faults.actions import Action
from chaos.faults.journal import Journal, JournalError, find_journals
from chaos.system.target import parse_target


def test_a_fault_is_on_disk_before_it_is_applied(tmp_path: Path) -> None:
    journal = Journal.create(
        tmp_path / "run", experiment="x", experiment_file="x.yaml", system_file="s.yaml",
        owns_system=True,
    )  # fmt: skip
    fault = Fault(name="slow", target=parse_target("orders->payments"), kind="latency")
    action = Action("toxic", proxy="orders.payments.0", toxic="gameday-slow", toxic_type="latency")
    index = journal.begin_fault(fault, [action])

    on_disk = Journal.load(tmp_path / "run")
    assert on_disk.data["faults"][index]["state"] == "pending"
    assert on_disk.live_faults() == [(0, [action])]

    killed = Action("kill", service="payments", replica=1, pgid=4242)
    journal.fault_applied(index, [killed])
    assert Journal.load(tmp_path / "run").live_faults() == [(0, [killed])]
    journal.fault_removed(index)
    assert Journal.load(tmp_path / "run").live_faults() == []
    journal.finish("completed", deviated=False)
    data = json.loads((tmp_path / "run" / "journal.json").read_text())
    assert data["status"] == "completed" and data["ended"] >= data["started"]
    assert find_journals(tmp_path) == [tmp_path / "run" / "journal.json"]
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_a_bad_journal_says_so(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        Journal.load(tmp_path)
    (tmp_path / "journal.json").write_text("{nope")
    with pytest.raises(JournalError, match="is not valid JSON"):
        Journal.load(tmp_path)


def test_files_are_recorded_absolute_for_a_command_run_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a crashed matrix is judged by the next gameday command, which may run from another
    # directory: a relative system file would not be found there
    monkeypatch.chdir(tmp_path)
    Journal.create(
        tmp_path / "run", experiment="x", experiment_file="e/x.yaml", system_file="s.yaml",
        owns_system=True,
    )  # fmt: skip
    monkeypatch.chdir("/")
    recorded = Journal.load(tmp_path / "run").data["experiment"]
    assert recorded["system_file"] == str(tmp_path / "s.yaml")
    assert recorded["file"] == str(tmp_path / "e" / "x.yaml")
