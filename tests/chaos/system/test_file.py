"""Loading system files: what is accepted, and errors that name file:line, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ConfigInvalid, SystemFileInvalid
from chaos.system.model import find_cycle, load_system, parse_system, project_root
from chaos.system.target import FaultTarget, parse_target

CHAOS_TESTS = Path(__file__).resolve().parents[1]
ROOT = CHAOS_TESTS.parents[1]
TEST_SYSTEM = CHAOS_TESTS / "runtime" / "system.yaml"

FULL = """\
name: shop
services:
  gateway:
    command: "{python} -m uvicorn gw:app --host 127.0.0.1 --port {port}"
    depends_on: [orders, reviews]
    public: true
    env: {GATEWAY_RATE_LIMIT_PER_SECOND: 200, DEBUG: false}
  orders:
    command: ["{python}", "-m", "orders", "--port", "{port}", "--db", "{data}/orders.db"]
    depends_on: [payments, nats]
    health: /healthz
  payments:
    command: "{python} -m payments --port {port} --name {name}-{replica}"
    replicas: 2
    metrics: false
  reviews:
    command: "{python} -m reviews --port {port}"
    depends_on: reviews-db
  reviews-db:
    command: "{python} -m db --port {port}"
    metrics: /internal/metrics
infrastructure:
  nats:
    command: "nats-server -js -a 127.0.0.1 -p {port} -sd {data}"
    ready: tcp
    scheme: nats
journeys:
  browse:   {p95: 300ms, error_rate: 1%}
  checkout: {p95: 800ms, error_rate: 2%}
expectations:
  - fault: {target: payments, kind: down}
    unaffected: [browse]
    degraded: [checkout]
  - fault: {target: orders->payments, kind: latency, latency: 500ms}
    degraded: checkout
  - fault: {target: payments/1, kind: kill}
"""


def test_a_full_file() -> None:
    spec = parse_system(FULL, source="system.yaml", root=Path("/repo"))
    assert spec.name == "shop"
    assert list(spec.services) == ["gateway", "orders", "payments", "reviews", "reviews-db"]
    gateway = spec.services["gateway"]
    assert gateway.public and gateway.depends_on == ("orders", "reviews")
    assert gateway.env == {"GATEWAY_RATE_LIMIT_PER_SECOND": "200", "DEBUG": "false"}
    assert gateway.health == "/readyz" and gateway.metrics == "/metrics"
    assert gateway.where == "system.yaml:3"
    assert spec.services["orders"].command[-1] == "{data}/orders.db"
    assert spec.services["orders"].health == "/healthz"
    assert spec.services["payments"].replicas == 2 and spec.services["payments"].metrics is None
    assert spec.services["reviews"].depends_on == ("reviews-db",)
    assert spec.services["reviews-db"].metrics == "/internal/metrics"
    nats = spec.infrastructure["nats"]
    assert (nats.health, nats.scheme, nats.infrastructure, nats.replicas) == (
        "tcp",
        "nats",
        True,
        1,
    )
    assert spec.journeys == ("browse", "checkout")
    assert spec.slo is not None
    browse = spec.slo.for_journey("browse")
    assert browse is not None and browse.source == "system.yaml:28"
    first, second, third = spec.expectations
    assert first.fault.target == FaultTarget("service", "payments")
    assert (first.unaffected, first.degraded) == (("browse",), ("checkout",))
    assert second.fault.target == FaultTarget("edge", "payments", caller="orders")
    assert second.fault.params == {"latency": "500ms"} and second.degraded == ("checkout",)
    assert third.fault.target == FaultTarget("replica", "payments", replica=1)
    assert third.where == "system.yaml:36"


def test_the_runtime_test_system_loads_and_finds_its_root() -> None:
    spec = load_system(TEST_SYSTEM)
    assert spec.root == str(ROOT)  # the directory holding pyproject.toml
    assert project_root(TEST_SYSTEM) == ROOT
    assert spec.services["backend"].replicas == 2


def _swap(old: str, new: str) -> str:
    assert old in FULL, old
    return FULL.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            _swap("name: shop", "name: Shop!"),
            1,
            r"system name 'Shop!' must be lower-case .* 'shop'",
        ),
        (_swap("name: shop", "nmae: shop"), 1, r"unknown key 'nmae' .*\(did you mean 'name'\?\)"),
        (
            _swap("  gateway:", "  Gate_way:"),
            3,
            r"service name 'Gate_way' .* write e\.g\. 'gate-way'",
        ),
        (
            _swap("    public: true", "    pubic: true"),
            6,
            r"unknown key 'pubic' in services\.gateway \(did you mean 'public'\?\)",
        ),
        (
            _swap("    public: true", "    public: yes please"),
            6,
            r"public must be true or false, got 'yes please'",
        ),
        (
            _swap("    replicas: 2", "    replicas: 0"),
            14,
            r"replicas must be a whole number >= 1, got 0; write e\.g\. 2",
        ),
        (
            _swap("    replicas: 2", "    replicas: two"),
            14,
            r"replicas must be a whole number >= 1, got 'two'",
        ),
        (
            _swap("--port {port} --name", "--name"),
            13,
            r"services\.payments\.command has no \{port\}: .* write e\.g\.",
        ),
        (
            _swap("--port {port} --name", "--port {prot} --name"),
            13,
            r"unknown placeholder '\{prot\}' \(did you mean 'port'\?\); "
            r"the placeholders are \{port\}",
        ),
        (
            _swap("--port {port} --name", "--port {port --name"),
            13,
            r"stray brace .* write \{\{ or \}\} for a literal brace",
        ),
        (
            _swap('"{python} -m reviews --port {port}"', "'{python} \"-m reviews --port {port}'"),
            17,
            r"cannot be split into words .* close the quote",
        ),
        (
            _swap("    depends_on: [payments, nats]", "    depends_on: [paymnets, nats]"),
            10,
            r"names 'paymnets', which is neither a service nor infrastructure "
            r"\(did you mean 'payments'\?\)",
        ),
        (
            _swap("    depends_on: [payments, nats]", "    depends_on: [payments, nats, payments]"),
            10,
            r"names 'payments' twice; keep one",
        ),
        (
            _swap("    depends_on: [payments, nats]", "    depends_on: [orders]"),
            10,
            r"names the service itself; remove 'orders'",
        ),
        (
            _swap(
                '    command: "{python} -m db --port {port}"',
                '    command: "{python} -m db --port {port}"\n    depends_on: [gateway]',
            ),
            5,
            r"cycle gateway -> reviews -> reviews-db -> gateway; .* remove one",
        ),
        (
            _swap("    health: /healthz", "    health: healthz"),
            11,
            r"'healthz' is neither an HTTP path nor tcp; write e\.g\. /readyz",
        ),
        (
            _swap("    metrics: false", "    metrics: yes"),
            15,
            r"metrics must be an HTTP path such as /metrics, or false",
        ),
        (
            _swap("    ready: tcp", "    ready: udp"),
            25,
            r"ready 'udp' is neither an HTTP path nor tcp",
        ),
        (
            _swap("    scheme: nats", "    scheme: NATS://"),
            26,
            r"scheme 'NATS://' is not a URL scheme; write e\.g\. nats",
        ),
        (
            _swap("    scheme: nats", "    replicas: 3"),
            26,
            r"unknown key 'replicas' in infrastructure\.nats",
        ),
        (
            _swap("DEBUG: false}", "GAMEDAY_SERVICE: x}"),
            7,
            r"GAMEDAY_SERVICE is set by gameday itself .*; remove it",
        ),
        (_swap("DEBUG: false}", '"BAD-NAME": x}'), 7, r"'BAD-NAME' is not a variable name"),
        (
            _swap("DEBUG: false}", "ORDERS_URLS: x}"),
            3,
            r"env sets ORDERS_URLS, which gameday fills .*; remove it",
        ),
        (
            _swap("  browse:   {p95: 300ms, error_rate: 1%}", "  browse:   {p95: fast}"),
            28,
            r"'fast' is not a duration; write e\.g\. 250ms",
        ),
        (
            _swap("  browse:   {p95: 300ms, error_rate: 1%}", "  browse:   {p59.x: 1s}"),
            28,
            r"unknown threshold 'p59\.x'",
        ),
        (
            _swap("    unaffected: [browse]", "    unaffected: [brwose]"),
            32,
            r"names journey 'brwose', which is not under journeys \(did you mean 'browse'\?\)",
        ),
        (
            _swap("    unaffected: [browse]", "    unaffected: [checkout]"),
            31,
            r"'checkout' is both unaffected and degraded; pick one",
        ),
        (
            _swap("{target: payments, kind: down}", "{target: paymets, kind: down}"),
            31,
            r"'paymets' is not a service \(did you mean 'payments'\?\)",
        ),
        (
            _swap("{target: payments/1, kind: kill}", "{target: payments/2, kind: kill}"),
            36,
            r"payments has 2 replica\(s\), numbered from 0; write payments/0 to payments/1",
        ),
        (
            _swap("{target: orders->payments,", "{target: gateway->payments,"),
            34,
            r"gateway does not depend on payments \(it depends on orders, reviews\)",
        ),
        (
            _swap("{target: orders->payments,", "{target: nats->payments,"),
            34,
            r"caller 'nats' is not a service",
        ),
        (
            _swap("{target: payments/1, kind: kill}", "{target: pay ments, kind: kill}"),
            36,
            r"'pay ments' is not a fault target; write SERVICE, SERVICE/REPLICA",
        ),
        (
            _swap("{target: payments/1, kind: kill}", "{target: payments/1}"),
            36,
            r"fault needs 'kind'",
        ),
        (
            _swap("{target: payments/1, kind: kill}", "{target: payments/1, kind: Kill It}"),
            36,
            r"fault\.kind 'Kill It' is not a fault name",
        ),
        (
            _swap("journeys:\n", "jorneys:\n"),
            27,
            r"unknown key 'jorneys' .*\(did you mean 'journeys'\?\)",
        ),
        (
            _swap(
                "    degraded: checkout\n",
                "    degraded: checkout\n"
                "  - {fault: {target: payments, kind: down}, broken: [x]}\n",
            ),
            36,
            r"unknown key 'broken' in an expectation",
        ),
        (
            _swap(
                '  reviews:\n    command: "{python} -m reviews --port {port}"',
                '  reviews:\n    command: ""',
            ),
            17,
            r"command must be a non-empty string",
        ),
        (_swap("name: shop", "name: shop\nname: again"), 2, r"'name' appears twice"),
        ("name: shop\nservices: {}\n", 2, r"services is empty; describe at least one"),
        (
            "name: s\nservices:\n  gameday-proxy: {command: 'x {port}'}\n",
            3,
            r"names starting with 'gameday-' are gameday's own processes .* write e\.g\. 'proxy'",
        ),
        ("name: shop\n", 1, r"the system file needs 'services'"),
        ("- a\n- b\n", 1, r"the system file must be a mapping"),
        ("name: shop\nservices: {a: {command: [x\n", 3, r"not valid YAML"),
        (
            "name: s\nservices: {a: {command: 'x {port}'}}\n"
            "infrastructure: {a: {command: 'y {port}'}}\n",
            3,
            r"'a' is both a service and infrastructure; rename one",
        ),
    ],
)
def test_errors_name_file_line_value_and_fix(text: str, line: int, message: str) -> None:
    with pytest.raises(SystemFileInvalid, match=rf"^system\.yaml:{line}: .*{message}"):
        parse_system(text, source="system.yaml")


def test_a_missing_file_says_which_path_to_pass(tmp_path: Path) -> None:
    with pytest.raises(
        SystemFileInvalid, match=r"cannot read system file .*nope\.yaml: .*pass the path"
    ):
        load_system(tmp_path / "nope.yaml")


def test_expectations_need_journeys_to_name() -> None:
    text = FULL[: FULL.index("journeys:")] + (
        "expectations:\n  - fault: {target: payments, kind: down}\n    degraded: [checkout]\n"
    )
    with pytest.raises(
        SystemFileInvalid,
        match=r"'checkout', which is not under journeys \(known: none yet\); add it there",
    ):
        parse_system(text, source="system.yaml")


def test_component_lookup_names_the_choices() -> None:
    spec = parse_system(FULL, source="system.yaml")
    assert spec.component("nats").infrastructure
    with pytest.raises(
        ConfigInvalid,
        match=r"'paymnts' is not a service of system 'shop' \(did you mean 'payments'\?\)",
    ):
        spec.component("paymnts")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("payments", FaultTarget("service", "payments")),
        (" payments/12 ", FaultTarget("replica", "payments", replica=12)),
        ("orders -> payments", FaultTarget("edge", "payments", caller="orders")),
    ],
)
def test_targets_parse_and_print_back(text: str, target: FaultTarget) -> None:
    assert parse_target(text) == target
    assert parse_target(str(target)) == target


@pytest.mark.parametrize(
    "text", ["", "Payments", "payments/", "payments/-1", "a->", "->b", "a/b/c"]
)
def test_bad_targets_show_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a fault target; write SERVICE, SERVICE/REPLICA"):
        parse_target(text)


def test_find_cycle() -> None:
    assert find_cycle({"a": ("b",), "b": ("c",), "c": ()}) == []
    assert find_cycle({"a": ("b",), "b": ("c",), "c": ("b",)}) == ["b", "c", "b"]


def test_hostile_input_bursts_are_set_or_turned_off_and_bad_ones_named() -> None:
    base = "name: s\nservices: {a: {command: 'x {port}', public: true}}\nmatrix:\n"
    assert parse_system(base + "  faults: [down]\n").matrix.hostile_input.burst == 8
    spec = parse_system(base + "  hostile_input: {burst: 0}\n", source="system.yaml")
    assert spec.matrix.hostile_input.burst == 0  # off
    with pytest.raises(SystemFileInvalid, match=r"system\.yaml:4: .*burst must be an integer"):
        parse_system(base + "  hostile_input: {burst: many}\n", source="system.yaml")
