"""`fault(...)` arguments: checked against the system before anything is touched (pure)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chaos.errors import ConfigInvalid
from chaos.system.model import SystemSpec, load_system
from chaos.system.topology import Topology, resolve_topology
from chaos.testing.fault import make_fault

SYSTEM = Path(__file__).with_name("system.yaml")


@pytest.fixture(scope="module")
def spec() -> SystemSpec:
    return load_system(SYSTEM)


@pytest.fixture(scope="module")
def topology(spec: SystemSpec, tmp_path_factory: pytest.TempPathFactory) -> Topology:
    ports = itertools.count(20000)
    return resolve_topology(spec, run_dir=tmp_path_factory.mktemp("run"),
                            allocate_port=lambda: next(ports), python="python")  # fmt: skip


def test_targets_kinds_and_attributes_as_in_experiment_files(
    spec: SystemSpec, topology: Topology
) -> None:
    slow = make_fault(spec, topology, "front->back", "latency", name="f",
                      attributes={"latency": "1.5s"})  # fmt: skip
    assert (str(slow.target), slow.kind) == ("front->back", "latency")
    assert slow.attributes == {"latency": 1500, "jitter": 0}  # the default filled in
    assert make_fault(spec, topology, "back", "latency", name="f",
                      attributes={"latency": 250, "jitter": "50ms"}).attributes == {
        "latency": 250, "jitter": 50}  # fmt: skip
    assert make_fault(spec, topology, "back/1", "kill", name="f").target.replica == 1
    assert make_fault(spec, topology, "back", "bandwidth", name="f", stream="upstream",
                      toxicity=0.5, attributes={"rate": 10}).stream == "upstream"  # fmt: skip


@pytest.mark.parametrize(
    ("target", "kind", "attributes", "message"),
    [
        (
            "bak",
            "down",
            {},
            r"fault\('bak', 'down'\): target 'bak': 'bak' is not a service "
            r"\(did you mean 'back'\?\); known: front, back",
        ),
        ("back/2", "down", {}, r"back has 2 replica\(s\), numbered from 0; write back/0 to back/1"),
        ("back->front", "down", {}, "back does not depend on front"),
        ("back:1", "down", {}, "is not a fault target; write SERVICE"),
        ("back", "dwn", {}, r"unknown fault kind 'dwn' \(did you mean 'down'\?\); use one of"),
        ("front->back", "kill", {}, "kill acts on processes; target a service or a replica"),
        (
            "back",
            "latency",
            {},
            r"latency needs latency=\.\.\., e.g. fault\('back', "
            r"'latency', latency='1500ms'\)",
        ),
        (
            "back",
            "latency",
            {"latncy": 5},
            r"has no attribute 'latncy' \(did you mean "
            r"'latency'\?\); it takes latency, jitter",
        ),
        ("back", "latency", {"latency": "soon"}, "latency: 'soon' is not a duration"),
        ("back", "bandwidth", {"rate": 1.5}, "rate: 1.5 is not a whole number"),
        ("back", "down", {"latency": 5}, "down takes no attributes; remove latency"),
    ],
)
def test_mistakes_name_the_value_and_the_fix(
    spec: SystemSpec, topology: Topology, target: str, kind: str,
    attributes: dict[str, object], message: str,
) -> None:  # fmt: skip
    with pytest.raises(ConfigInvalid, match=message):
        make_fault(spec, topology, target, kind, name="f", attributes=attributes)


def test_stream_and_toxicity_are_checked(spec: SystemSpec, topology: Topology) -> None:
    with pytest.raises(ConfigInvalid, match=r"stream='sideways' must be 'upstream' or"):
        make_fault(spec, topology, "back", "down", name="f", stream="sideways")
    with pytest.raises(ConfigInvalid, match=r"toxicity=1\.5 must be between 0\.0 and 1\.0"):
        make_fault(spec, topology, "back", "down", name="f", toxicity=1.5)
