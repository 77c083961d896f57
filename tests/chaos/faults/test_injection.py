"""Faults applied through the journal (chaos.faults.injection), on a real embedded proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.errors import FaultInjectionError
from chaos.experiment.model import Fault
from chaos.faults.actions import Action, Injector
from chaos.faults.injection import inject, remove, remove_live
from chaos.faults.journal import Journal
from chaos.net import free_port
from chaos.proxy import serve_in_thread
from chaos.proxy.client import ProxySpec, ToxiproxyClient
from chaos.system.target import parse_target

SLOW = Fault("slow", parse_target("front->back"), "latency", {"latency": 800, "jitter": 0})


def _toxic(proxy: str) -> Action:
    return Action("toxic", proxy=proxy, toxic="gameday-slow", toxic_type="latency",
                  attributes={"latency": 800, "jitter": 0})  # fmt: skip


@pytest.fixture
def toxiproxy() -> Iterator[ToxiproxyClient]:
    with serve_in_thread() as server:
        client = ToxiproxyClient(server.url)
        client.populate(
            [ProxySpec(f"front.back.{i}", f"127.0.0.1:{free_port()}") for i in range(2)]
        )
        yield client


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal.create(tmp_path, experiment="t", experiment_file="t", system_file="s.yaml",
                          owns_system=False)  # fmt: skip


def test_inject_then_remove_leaves_nothing(toxiproxy: ToxiproxyClient, journal: Journal) -> None:
    injector = Injector(toxiproxy, None)
    index = inject(journal, injector, SLOW, [_toxic("front.back.0"), _toxic("front.back.1")])
    assert [t.name for t in toxiproxy.toxics("front.back.1")] == ["gameday-slow"]
    assert Journal.load(journal.path).data["faults"][index]["state"] == "applied"

    assert remove(journal, injector, index) == []
    assert toxiproxy.toxics("front.back.0") == toxiproxy.toxics("front.back.1") == []
    assert Journal.load(journal.path).live_faults() == []


def test_a_fault_refused_half_way_is_undone(toxiproxy: ToxiproxyClient, journal: Journal) -> None:
    injector = Injector(toxiproxy, None)
    with pytest.raises(FaultInjectionError, match=r"front\.back\.9"):
        inject(journal, injector, SLOW, [_toxic("front.back.0"), _toxic("front.back.9")])
    assert toxiproxy.toxics("front.back.0") == []  # the first action was undone again
    entry = Journal.load(journal.path).data["faults"][0]
    assert entry["state"] == "removed"
    assert "apply failed" in entry["error"]


def test_remove_live_undoes_what_the_journal_lists(
    toxiproxy: ToxiproxyClient, journal: Journal
) -> None:
    injector = Injector(toxiproxy, None)
    inject(journal, injector, SLOW, [_toxic("front.back.0")])
    down = Fault("down", parse_target("back/1"), "down")
    inject(journal, injector, down, [Action("disable", proxy="front.back.1")])
    assert not toxiproxy.get_proxy("front.back.1").enabled

    assert remove_live(Journal.load(journal.path), injector) == []  # as after a crash
    assert toxiproxy.get_proxy("front.back.1").enabled
    assert toxiproxy.toxics("front.back.0") == []
