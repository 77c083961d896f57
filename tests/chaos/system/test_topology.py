"""Resolving a system into processes, proxies and start waves; fault targets; file_sd. Pure."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.errors import ConfigInvalid
from chaos.system.model import parse_system
from chaos.system.topology import (
    Topology,
    file_sd_targets,
    resolve_target,
    resolve_topology,
    start_waves,
)
from tests.chaos.system.test_file import FULL

RUN = "/runs/r1"


def resolve(**replicas: int) -> Topology:
    spec = parse_system(FULL, source="system.yaml", root=Path("/repo"))
    ports = itertools.count(41000)
    return resolve_topology(
        spec, run_dir=RUN, allocate_port=ports.__next__, replicas=replicas, python="/py"
    )


def test_waves_start_dependencies_first() -> None:
    spec = parse_system(FULL, source="system.yaml")
    assert start_waves(spec) == (
        ("nats", "payments", "reviews-db"),
        ("orders", "reviews"),
        ("gateway",),
    )


def test_processes_in_start_order_with_their_ports_and_commands() -> None:
    topology = resolve(payments=3)
    assert [p.key for p in topology.processes] == [
        "nats/0", "payments/0", "payments/1", "payments/2", "reviews-db/0",
        "orders/0", "reviews/0", "gateway/0",
    ]  # fmt: skip
    assert [p.port for p in topology.processes] == list(range(41000, 41008))
    payments = topology.process("payments", 2)
    assert payments.argv == ("/py", "-m", "payments", "--port", "41003", "--name", "payments-2")
    assert (payments.url, payments.data_dir) == ("http://127.0.0.1:41003", f"{RUN}/data/payments")
    assert payments.log == f"{RUN}/logs/payments-2.log"
    nats = topology.process("nats")
    assert nats.argv[-1] == f"{RUN}/data/nats" and nats.url == "nats://127.0.0.1:41000"
    assert topology.process("orders").argv[-1] == f"{RUN}/data/orders/orders.db"
    assert topology.services == (
        "nats", "payments", "reviews-db", "orders", "reviews", "gateway"
    )  # fmt: skip


def test_one_proxy_per_edge_per_callee_replica() -> None:
    topology = resolve(payments=3)
    names = [p.name for p in topology.proxies]
    assert names == [
        "orders.payments.0", "orders.payments.1", "orders.payments.2", "orders.nats.0",
        "reviews.reviews-db.0", "gateway.orders.0", "gateway.reviews.0",
    ]  # fmt: skip
    second = topology.proxy("orders.payments.1")
    assert second.upstream == topology.process("payments", 1).address
    assert second.listen == "127.0.0.1:41009" and second.url == "http://127.0.0.1:41009"
    assert topology.proxy("orders.nats.0").url == "nats://127.0.0.1:41011"
    listens = {p.listen for p in topology.proxies} | {p.address for p in topology.processes}
    assert len(listens) == len(topology.proxies) + len(topology.processes)  # no port twice


def test_environment_exactly_as_documented() -> None:
    topology = resolve(payments=2)
    orders = topology.process("orders")
    assert orders.env == {
        "PAYMENTS_URLS": "http://127.0.0.1:41007,http://127.0.0.1:41008",
        "NATS_URLS": "nats://127.0.0.1:41009",
        "GAMEDAY_SERVICE": "orders",
        "GAMEDAY_REPLICA": "0",
        "GAMEDAY_DATA_DIR": f"{RUN}/data/orders",
        "GAMEDAY_RUN_DIR": RUN,
        "GAMEDAY_TRACES_DIR": f"{RUN}/traces",
        "OTEL_SERVICE_NAME": "orders",
        "OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=orders-0",
    }
    reviews = topology.process("reviews")
    assert reviews.env["REVIEWS_DB_URLS"] == topology.proxy("reviews.reviews-db.0").url
    gateway = topology.process("gateway")
    assert gateway.env["GATEWAY_RATE_LIMIT_PER_SECOND"] == "200" and gateway.public
    assert topology.process("payments", 1).env["OTEL_RESOURCE_ATTRIBUTES"] == (
        "service.instance.id=payments-1"
    )


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        (
            {"paymnts": 2},
            r"--replicas paymnts=2: 'paymnts' is not a service \(did you mean 'payments'\?\)",
        ),
        ({"nats": 2}, r"--replicas nats=2: nats is infrastructure and runs as one process"),
        ({"payments": 0}, r"--replicas payments=0: a service needs at least 1 replica"),
    ],
)
def test_bad_replica_overrides(replicas: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigInvalid, match=message):
        resolve(**replicas)


def test_targets_resolve_to_proxies_and_processes() -> None:
    topology = resolve(payments=2)
    service = resolve_target(topology, "payments")
    assert service.proxy_names == ("orders.payments.0", "orders.payments.1")
    assert [p.key for p in service.processes] == ["payments/0", "payments/1"]
    replica = resolve_target(topology, "payments/1")
    assert replica.proxy_names == ("orders.payments.1",)
    assert [p.key for p in replica.processes] == ["payments/1"]
    edge = resolve_target(topology, "gateway->orders")
    assert edge.proxy_names == ("gateway.orders.0",) and edge.processes == ()
    infra = resolve_target(topology, "nats")
    assert infra.proxy_names == ("orders.nats.0",) and infra.processes[0].key == "nats/0"
    public = resolve_target(topology, "gateway")
    assert public.proxy_names == () and public.processes[0].key == "gateway/0"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("paymnts", r"'paymnts' is not a service of system 'shop' \(did you mean 'payments'\?\)"),
        ("payments/2", r"payments has 2 replica\(s\); replica 2 does not exist \(use 0 to 1\)"),
        (
            "gateway->payments",
            r"no edge gateway->payments: .*\(edges into payments: orders->payments\)",
        ),
        ("pay/ments", r"is not a fault target; write SERVICE"),
    ],
)
def test_bad_targets_name_what_exists(target: str, message: str) -> None:
    with pytest.raises(ConfigInvalid, match=message):
        resolve_target(resolve(payments=2), target)


def test_topology_round_trips_through_json() -> None:
    topology = resolve(payments=2)
    again = Topology.from_json(json.loads(json.dumps(topology.to_json())))
    assert again == topology


def test_file_sd_one_group_per_replica_serving_metrics() -> None:
    topology = resolve(payments=2)
    groups = file_sd_targets(topology)
    services = [(g["labels"]["service"], g["labels"]["replica"]) for g in groups]
    # payments (metrics: false) and nats (infrastructure) serve no metrics
    assert services == [("reviews-db", "0"), ("orders", "0"), ("reviews", "0"), ("gateway", "0")]
    assert groups[0] == {
        "targets": [topology.process("reviews-db").address],
        "labels": {
            "system": "shop",
            "service": "reviews-db",
            "replica": "0",
            "__metrics_path__": "/internal/metrics",
        },
    }
    extra = topology.process("payments", 1)
    with_extra = file_sd_targets(topology, [type(extra)(**{**vars(extra), "metrics": "/m"})])
    assert with_extra[-1]["targets"] == [extra.address]


@st.composite
def systems(draw: st.DrawFn) -> tuple[str, dict[str, int]]:
    """A random acyclic system (each service may call earlier ones and nats) and overrides."""
    count = draw(st.integers(1, 5))
    lines = ["name: gen", "services:"]
    overrides = {}
    for i in range(count):
        deps = [f"s{j}" for j in range(i) if draw(st.booleans())]
        if draw(st.booleans()):
            deps.append("nats")
        lines += [f"  s{i}:", "    command: 'run --port {port}'", f"    depends_on: {deps}"]
        if draw(st.booleans()):
            overrides[f"s{i}"] = draw(st.integers(1, 3))
    lines += ["infrastructure:", "  nats: {command: 'nats --port {port}', scheme: nats}"]
    return "\n".join(lines) + "\n", overrides


@given(systems())
def test_any_system_resolves_to_consistent_proxies(generated: tuple[str, dict[str, int]]) -> None:
    text, overrides = generated
    spec = parse_system(text, source="gen.yaml")
    ports = itertools.count(20000)
    topology = resolve_topology(
        spec, run_dir=RUN, allocate_port=ports.__next__, replicas=overrides, python="/py"
    )
    addresses = [p.address for p in topology.processes] + [p.listen for p in topology.proxies]
    assert len(set(addresses)) == len(addresses)
    wave_of = {name: i for i, wave in enumerate(topology.waves) for name in wave}
    for process in topology.processes:
        for dep in spec.components[process.service].depends_on:
            assert wave_of[dep] < wave_of[process.service]
            callees = topology.replicas(dep)
            urls = process.env[f"{dep.upper()}_URLS"].split(",")
            assert len(urls) == len(callees) == overrides.get(dep, 1)
            for i, (url, callee) in enumerate(zip(urls, callees, strict=True)):
                proxy = topology.proxy(f"{process.service}.{dep}.{i}")
                assert url == proxy.url and proxy.upstream == callee.address
    for name in topology.services:
        callers = [s for s in spec.services.values() if name in s.depends_on]
        resolved = resolve_target(topology, name)
        assert len(resolved.proxies) == len(callers) * len(topology.replicas(name))
