"""Planning faults: each kind becomes the right undoable actions on the right proxies."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chaos.errors import FaultInjectionError
from chaos.experiment.model import Fault
from chaos.faults.actions import Action, plan_fault
from chaos.system.model import load_system
from chaos.system.target import parse_target
from chaos.system.topology import resolve_topology

SYSTEM = Path(__file__).parents[1] / "experiment" / "system.yaml"


@pytest.fixture
def topology(tmp_path: Path):  # type: ignore[no-untyped-def]
    ports = itertools.count(20000)
    return resolve_topology(
        load_system(SYSTEM),
        run_dir=tmp_path,
        allocate_port=lambda: next(ports),
        replicas={"back": 2},
        python="python",
    )


def _fault(target: str, kind: str, **attributes: int) -> Fault:
    return Fault(name="f", target=parse_target(target), kind=kind, attributes=attributes)  # type: ignore[arg-type]


def test_toxics_go_on_every_proxy_in_front_of_the_target(topology) -> None:  # type: ignore[no-untyped-def]
    actions = plan_fault(_fault("back", "latency", latency=500, jitter=0), topology)
    assert [a.proxy for a in actions] == ["front.back.0", "front.back.1"]
    assert {(a.kind, a.toxic, a.toxic_type) for a in actions} == {("toxic", "gameday-f", "latency")}
    assert actions[0].attributes == {"latency": 500, "jitter": 0}


def test_replica_edge_down_kill_and_pause(topology) -> None:  # type: ignore[no-untyped-def]
    assert [a.proxy for a in plan_fault(_fault("back/1", "timeout", timeout=0), topology)] == [
        "front.back.1"
    ]
    assert plan_fault(_fault("front->back", "down"), topology) == [
        Action("disable", proxy="front.back.0"),
        Action("disable", proxy="front.back.1"),
    ]
    assert plan_fault(_fault("back/0", "kill"), topology) == [
        Action("kill", service="back", replica=0)
    ]
    assert plan_fault(_fault("back", "pause"), topology) == [
        Action("pause", service="back", replica=0),
        Action("pause", service="back", replica=1),
    ]


def test_a_public_entry_point_has_no_proxy_to_fault(topology) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FaultInjectionError, match="front has no proxy in front of it"):
        plan_fault(_fault("front", "down"), topology)


def test_actions_survive_the_journal_round_trip() -> None:
    action = Action("toxic", proxy="a.b.0", toxic="gameday-x", toxic_type="latency",
                    attributes={"latency": 5})  # fmt: skip
    assert Action.from_json(action.to_json()) == action
