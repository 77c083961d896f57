"""The boards and rules on real data: the shop under load, the runtime's Prometheus (game-day
profile), real faults. One system for the whole module (about a minute on 2 cores).

- every metric name in every board and rule is one the shop's /metrics really exposes;
- payments down is detected (first alert firing) and the alerts name payments and checkout
  only, no alert for browse, product or reviews;
- every query of every board returns data (after reviews went down too: fallbacks);
- an exemplar read back from Prometheus names a trace the services exported;
- one checkout is one trace from the gateway to notifications, through NATS.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chaos.experiment.exporter import ExperimentExporter
from chaos.experiment.model import Fault
from chaos.faults.actions import Injector, plan_fault
from chaos.runtime import start_system
from chaos.runtime.prometheus import extra_targets_dir
from chaos.runtime.system import RunningSystem
from chaos.system.target import parse_target
from dashboards.check import (
    PROMETHEUS_MADE,
    api,
    board_queries,
    concrete,
    every_expression,
    exposed_families,
    family,
    firing,
    metric_names,
    recorded_names,
)
from loadtests.runner import LoadProcess, LoadSpec
from tests.conftest import require_binary

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
DASHBOARDS = ROOT / "dashboards"
JOURNEYS = ("browse", "product", "reviews", "checkout")


@dataclass
class Shop:
    system: RunningSystem
    prometheus: str
    exporter: ExperimentExporter
    injector: Injector
    run_dir: Path
    detection: dict[str, Any] = field(default_factory=dict)


def wait(predicate: Any, timeout: float, what: str, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up after {timeout}s waiting for {what}"
        time.sleep(every)


def inject(shop: Shop, target: str, kind: str) -> float:
    fault = Fault(name=f"{target}-{kind}", target=parse_target(target), kind=kind)
    for action in plan_fault(fault, shop.system.topology):
        shop.injector.apply(action)
    shop.exporter.fault(fault, "applied")
    return time.time()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    require_binary("prometheus", "sudo apt-get install prometheus")
    run_dir = tmp_path_factory.mktemp("live")
    with start_system(
        ROOT / "sample_system" / "system.yaml", run_dir=run_dir, prometheus=True
    ) as system:
        assert system.prometheus_url is not None
        exporter = ExperimentExporter.start("live", extra_targets_dir(run_dir), system="shop")
        spec = LoadSpec(
            locustfile=ROOT / "loadtests" / "locustfile.py",
            host=system.url("gateway"),
            run_dir=run_dir / "load",
            users=4,
            env={"SHOP_LOAD_MODEL": "open", "GAMEDAY_RUN_DIR": str(run_dir)},
        )
        try:
            with LoadProcess.start(spec):
                shop = Shop(
                    system,
                    system.prometheus_url,
                    exporter,
                    Injector(system.toxiproxy, system),
                    run_dir,
                )
                exporter.phase("baseline", 0.0)
                # A baseline: every journey's SLIs have data, and nothing fires.
                wait(
                    lambda: (
                        len(
                            api(
                                shop.prometheus,
                                "/api/v1/query",
                                query="journey:sli_error:ratio_rate5m",
                            )["result"]
                        )
                        >= 4
                    ),
                    60,
                    "every journey's SLI",
                )
                time.sleep(8)
                assert [a for a in firing(shop.prometheus) if a["alertname"] != "ReplicaDown"] == []
                yield shop
        finally:
            exporter.close()


def test_payments_down_is_detected_and_the_alerts_point_at_payments_and_checkout(shop: Shop):
    shop.exporter.phase("fault", 0.0)
    injected = inject(shop, "payments", "down")

    def names_payments(alert: dict[str, str]) -> bool:
        return alert.get("callee") == "payments" or alert.get("service") == "payments"

    first = wait(
        lambda: [a for a in firing(shop.prometheus) if names_payments(a)], 30, "a payments alert"
    )
    detected = time.time() - injected
    checkout = wait(
        lambda: [a for a in firing(shop.prometheus) if a.get("journey") == "checkout"],
        40,
        "checkout's SLO alert",
    )
    journey_alerts = {a["journey"] for a in firing(shop.prometheus) if "journey" in a}
    shop.detection = {"first": first, "seconds": detected, "checkout": checkout}
    print(f"payments down: {first[0]['alertname']} after {detected:.1f}s")
    assert journey_alerts == {"checkout"}, f"unaffected journeys alerted: {journey_alerts}"
    assert detected <= 30


def test_every_metric_in_the_boards_and_rules_is_exposed_by_the_shop(shop: Shop):
    exposed: set[str] = set()
    for process in shop.system.topology.processes:
        if process.metrics:
            with urllib.request.urlopen(process.url + process.metrics, timeout=5) as response:
                exposed |= exposed_families(response.read().decode())
    assert shop.exporter.url is not None
    with urllib.request.urlopen(shop.exporter.url + "/metrics", timeout=5) as response:
        exposed |= exposed_families(response.read().decode())
    known = exposed | PROMETHEUS_MADE | recorded_names(DASHBOARDS / "rules" / "gameday")
    unknown = {
        (where, name)
        for where, expr in every_expression(DASHBOARDS)
        for name in metric_names(expr)
        if name not in known and family(name) not in known
    }
    assert not unknown, f"metrics no service exposes: {sorted(unknown)}"


def test_every_panel_query_returns_data(shop: Shop):
    inject(shop, "reviews", "down")  # fallbacks on the product page, reviews' breaker
    wait(
        lambda: api(shop.prometheus, "/api/v1/query", query="resilience_fallbacks_total")["result"],
        20,
        "a fallback",
    )
    time.sleep(3)
    end = time.time()
    empty = []
    queries = [
        q
        for path in sorted((DASHBOARDS / "json").glob("*.json"))
        for q in board_queries(json.loads(path.read_text()))
    ]
    assert len(queries) > 30
    for where, expr in queries:
        data = api(
            shop.prometheus,
            "/api/v1/query_range",
            query=concrete(expr),
            start=end - 90,
            end=end,
            step=1,
        )
        if not data["result"]:
            empty.append((where, expr))
    assert not empty, f"queries without data: {empty}"


def test_an_exemplar_names_a_trace_the_services_exported(shop: Shop):
    end = time.time()
    data = api(
        shop.prometheus,
        "/api/v1/query_exemplars",
        query="http_server_request_duration_seconds_bucket",
        start=end - 120,
        end=end,
    )
    trace_ids = {e["labels"]["trace_id"] for series in data for e in series["exemplars"]}
    assert trace_ids, "Prometheus kept no exemplar"
    exported = set()
    for path in (shop.run_dir / "traces").glob("*.jsonl"):
        exported |= set(json_trace_ids(path))
    assert trace_ids & exported, "no exemplar's trace id is among the exported spans"


def json_trace_ids(path: Path) -> Iterator[str]:
    for line in path.read_text().splitlines():
        try:
            batch = json.loads(line)
        except ValueError:
            continue
        for resource in batch.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    yield span["traceId"]


def spans(run_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in (run_dir / "traces").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                batch = json.loads(line)
            except ValueError:
                continue
            for resource in batch.get("resourceSpans", []):
                service = next(
                    (
                        a["value"]["stringValue"]
                        for a in resource["resource"]["attributes"]
                        if a["key"] == "service.name"
                    ),
                    "",
                )
                for scope in resource.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        found.append({**span, "service": service})
    return found


def test_a_checkout_is_one_trace_from_the_gateway_to_notifications(shop: Shop):
    def joined() -> set[str]:
        all_spans = spans(shop.run_dir)
        consumers = {
            s["traceId"]
            for s in all_spans
            if s["service"] == "notifications" and s["name"].startswith("process ")
        }
        gateway = {s["traceId"] for s in all_spans if s["service"] == "gateway"}
        return consumers & gateway

    traces = wait(joined, 30, "a notifications span in a gateway trace", every=1.0)
    log = (shop.run_dir / "logs" / "notifications-0.log").read_text()
    logged = {json.loads(line).get("trace_id") for line in log.splitlines() if line.startswith("{")}
    assert traces & logged, "no notifications log line carries a checkout's trace id"
