"""The matrix plan on synthetic systems: targets x kinds, equivalences, skips, declarations."""

from __future__ import annotations

import re

import pytest

from chaos.errors import ConfigInvalid
from chaos.matrix.plan import parse_kinds, plan_cells
from chaos.system.file import parse_system_text

SYSTEM = """
name: trio
services:
  front:
    command: "run {port}"
    depends_on: [alpha, beta]
    public: true
  alpha:
    command: "run {port}"
    depends_on: [beta, queue]
    replicas: 2
  beta:
    command: "run {port}"
  loner:
    command: "run {port}"
infrastructure:
  queue: {command: "q {port}"}
journeys:
  a: {p95: 300ms}
  b: {p95: 300ms}
expectations:
  - fault: {target: alpha/1, kind: down}
    unaffected: [a, b]
  - fault: {target: beta, kind: down}
    unaffected: [a]
    degraded: [b]
"""


@pytest.fixture
def spec():  # type: ignore[no-untyped-def]
    return parse_system_text(SYSTEM, source="trio.yaml")


def by_id(cells):  # type: ignore[no-untyped-def]
    return {c.id: c for c in cells}


def test_every_target_and_kind_of_the_default_set(spec) -> None:  # type: ignore[no-untyped-def]
    cells = by_id(plan_cells(spec))
    for name in ("front", "alpha", "beta", "loner", "queue"):
        for kind in ("down", "latency", "slow", "reset_peer"):
            assert f"{name}:{kind}" in cells
    assert {"alpha/0:pause", "alpha/0:kill"} <= cells.keys()
    assert not any(key.startswith(("beta/", "front/")) for key in cells)  # one replica each
    for edge in ("front->alpha", "front->beta", "alpha->beta", "alpha->queue"):
        for kind in ("down", "latency", "reset_peer"):
            assert f"{edge}:{kind}" in cells
    assert "front:hostile_input" in cells and "alpha:hostile_input" not in cells
    assert cells["alpha/0:kill"].kills and not cells["alpha:down"].kills


def test_an_edge_into_a_service_with_one_caller_is_that_service(spec) -> None:  # type: ignore[no-untyped-def]
    cells = by_id(plan_cells(spec))
    assert cells["front->alpha:down"].same_as == "alpha:down"  # alpha: only front calls it
    assert not cells["front->alpha:down"].runs
    assert cells["front->beta:down"].same_as is None  # beta: front and alpha call it
    assert cells["front->beta:down"].runs
    assert cells["front->beta:latency"].fault is not None
    assert cells["front->beta:latency"].fault.attributes == {"latency": 1500, "jitter": 0}


def test_uncalled_services_go_down_by_kill_and_skip_proxy_faults(spec) -> None:  # type: ignore[no-untyped-def]
    cells = by_id(plan_cells(spec))
    assert cells["front:down"].fault is not None and cells["front:down"].fault.kind == "kill"
    assert cells["loner:down"].fault is not None and cells["loner:down"].fault.kind == "kill"
    assert cells["front:latency"].skip is not None
    assert "nothing to act on" in (cells["loner:reset_peer"].skip or "")
    assert cells["queue:down"].fault is not None and cells["queue:down"].fault.kind == "down"


def test_declared_expectations_get_their_cells(spec) -> None:  # type: ignore[no-untyped-def]
    cells = by_id(plan_cells(spec, kinds=("latency",)))
    assert cells["alpha/1:down"].declared is not None  # not in the chosen kinds, but declared
    assert cells["beta:down"].declared is not None
    assert cells["beta:down"].declared.where == "trio.yaml:24"
    assert cells["beta:latency"].declared is None
    assert "alpha:down" not in cells


def test_only_keeps_the_cells_of_a_target(spec) -> None:  # type: ignore[no-untyped-def]
    cells = by_id(plan_cells(spec, kinds=("down",), only="alpha"))
    assert set(cells) == {"alpha:down", "front->alpha:down", "alpha->beta:down",
                          "alpha->queue:down", "alpha/1:down"}  # fmt: skip
    edge = by_id(plan_cells(spec, kinds=("down",), only="front->alpha"))
    assert set(edge) == {"front->alpha:down"}
    assert edge["front->alpha:down"].runs  # its twin alpha:down is not in the plan: it runs


@pytest.mark.parametrize(
    ("only", "message"),
    [
        ("alfa", "'alfa' is not a service of trio (did you mean 'alpha'?)"),
        ("a->b->c", "is not a fault target"),
        ("loner/0", "keeps no cell"),
    ],
)
def test_only_errors_name_the_value(spec, only: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigInvalid, match=re.escape(message)):
        plan_cells(spec, kinds=("down",), only=only)


def test_fault_kinds_parse_with_a_clear_error() -> None:
    assert parse_kinds("down, latency") == ("down", "latency")
    with pytest.raises(ConfigInvalid, match=r"'latncy' is not a fault kind .*mean 'latency'"):
        parse_kinds("down,latncy")
    with pytest.raises(ConfigInvalid, match="names no fault kind"):
        parse_kinds(" , ")
