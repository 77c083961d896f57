"""Experiment files: a valid plan parses; every mistake names file:line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.experiment.file import load_experiment
from chaos.experiment.model import check_against
from chaos.system.model import parse_system
from chaos.system.target import FaultTarget

VALID = """\
name: payments-down
description: Payments is down; browsing stays within SLO.
system: system.yaml
replicas: {payments: 3}
load: {locustfile: locustfile.py, users: 20, spawn_rate: 10}
schedule: {warmup: 5s, baseline: 20s, fault: 20s, recovery: 15s}
faults:
  - target: {service: payments}
    kind: down
  - name: slow-edge
    target: {edge: orders->inventory}
    kind: latency
    attributes: {latency: 1.5s, jitter: 100}
    toxicity: 50%
  - target: {replica: payments/2}
    kind: kill
hypothesis:
  steady: [browse, product]
  degraded:
    checkout: {max_latency: 300ms, errors: ["503"]}
  recover_within: 10s
invariants: {command: "{python} -m sample_system.audit", timeout: 30s}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "system.yaml").write_text("name: x\n")
    (tmp_path / "locustfile.py").write_text("")
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    return path


def test_a_valid_experiment(tmp_path: Path) -> None:
    experiment = load_experiment(_write(tmp_path, VALID))
    assert experiment.name == "payments-down"
    assert experiment.system == (tmp_path / "system.yaml").resolve()
    assert experiment.replicas == {"payments": 3}
    assert experiment.schedule.total == 60.0
    down, slow, kill = experiment.faults
    assert (down.kind, down.target, down.name) == (
        "down",
        FaultTarget("service", "payments"),
        "down-payments",
    )
    assert slow.target == FaultTarget("edge", "inventory", caller="orders")
    assert slow.attributes == {"latency": 1500, "jitter": 100}
    assert slow.toxicity == 0.5 and slow.stream == "downstream"
    assert kill.target == FaultTarget("replica", "payments", replica=2) and kill.is_process_fault
    assert experiment.hypothesis.steady == ("browse", "product")
    (checkout,) = experiment.hypothesis.degraded
    assert (checkout.max_latency_ms, checkout.errors) == (300.0, ("503",))
    assert experiment.hypothesis.recover_within == 10.0
    assert experiment.invariants is not None and experiment.invariants.timeout == 30.0
    assert experiment.journeys == ("browse", "product", "checkout")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "kind: down",
            "kind: dwon",
            "experiment.yaml:9: unknown fault kind 'dwon' (did you mean 'down'?)",
        ),
        ("schedule:", "scedule:", "experiment.yaml:6: unknown key 'scedule'"),
        (
            "attributes: {latency: 1.5s, jitter: 100}",
            "attributes: {jitter: 100}",
            "experiment.yaml:12: latency needs attribute 'latency'",
        ),
        ("latency: 1.5s", "latency: soon", "experiment.yaml:13: latency: 'soon' is not a duration"),
        (
            "{edge: orders->inventory}",
            "{edge: orders=>inventory}",
            "'orders=>inventory' is not a fault target",
        ),
        (
            "{replica: payments/2}\n    kind: kill",
            "{edge: orders->payments}\n    kind: kill",
            "kill acts on processes: target a service or a replica",
        ),
        ("fault: 20s", "fault: 1s", "experiment.yaml:6: schedule.fault must be at least 3s"),
        (
            "fault: 20s",
            "fault: -20s",
            "experiment.yaml:6: schedule.fault: '-20s' is negative; it must be 0 or more",
        ),
        ("locustfile: locustfile.py", "locustfile: nowhere.py", "load.locustfile"),
        (
            "steady: [browse, product]",
            "steady: [browse, checkout]",
            "'checkout' is both steady and degraded",
        ),
        ("toxicity: 50%", "toxicity: 150%", "more than 100%"),
        ("name: payments-down", "name: Payments Down", "must match [a-z][a-z0-9_-]*"),
        (
            "recover_within: 10s",
            "recover_within: 12s",
            "experiment.yaml:21: recover_within 12s cannot be judged in a 15s recovery window: "
            "a recovery must then hold 3s more (whole seconds), so make schedule.recovery at "
            "least 16s or recover_within at most 11s",
        ),
    ],
)
def test_mistakes_name_the_line_and_the_fix(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in VALID
    with pytest.raises(ExperimentInvalid) as caught:
        load_experiment(_write(tmp_path, VALID.replace(old, new, 1)))
    assert message in str(caught.value)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExperimentInvalid, match=r"experiment.yaml:3: not valid YAML"):
        load_experiment(_write(tmp_path, "name: x\nfaults: [\n"))
    with pytest.raises(ExperimentInvalid, match="cannot read experiment file"):
        load_experiment(tmp_path / "missing.yaml")


SYSTEM = """\
name: shop
services:
  gateway: {command: "run {port}", depends_on: [orders], public: true}
  orders: {command: "run {port}", depends_on: [inventory, payments]}
  inventory: {command: "run {port}"}
  payments: {command: "run {port}", replicas: 2}
journeys:
  browse: {p95: 300ms}
  product: {p95: 300ms}
  checkout: {p95: 800ms}
"""


def test_checked_against_the_system(tmp_path: Path) -> None:
    experiment = load_experiment(_write(tmp_path, VALID))
    check_against(experiment, parse_system(SYSTEM, source="system.yaml"))

    no_edge = SYSTEM.replace("depends_on: [inventory, payments]", "depends_on: [payments]")
    with pytest.raises(ExperimentInvalid, match="orders does not depend on inventory"):
        check_against(experiment, parse_system(no_edge, source="system.yaml"))
    no_journey = SYSTEM.replace("  product: {p95: 300ms}\n", "")
    with pytest.raises(ExperimentInvalid, match="journey 'product', which has no SLO"):
        check_against(experiment, parse_system(no_journey, source="system.yaml"))
    two = load_experiment(_write(tmp_path, VALID.replace("replicas: {payments: 3}\n", "")))
    with pytest.raises(ExperimentInvalid, match=r"payments has 2 replica\(s\), numbered from 0"):
        check_against(two, parse_system(SYSTEM, source="system.yaml"))
    unknown = load_experiment(
        _write(tmp_path, VALID.replace("replicas: {payments: 3}", "replicas: {paymnts: 3}"))
    )
    with pytest.raises(
        ExperimentInvalid, match=r"replicas names 'paymnts'.*did you mean 'payments'"
    ):
        check_against(unknown, parse_system(SYSTEM, source="system.yaml"))
