"""Claims per cell and journey: declared ones win, the rest derived from the call graph."""

from __future__ import annotations

from chaos.matrix.callgraph import CallGraph, JourneyGraph
from chaos.matrix.expectations import expect
from chaos.matrix.plan import plan_cells
from chaos.system.file import parse_system_text

SPEC = parse_system_text(
    """
name: shop
services:
  gateway: {command: "r {port}", depends_on: [catalog, reviews, payments], public: true}
  catalog: {command: "r {port}"}
  reviews: {command: "r {port}"}
  payments: {command: "r {port}", replicas: 2}
infrastructure:
  nats: {command: "n {port}"}
journeys:
  browse: {p95: 300ms}
  product: {p95: 500ms}
  checkout: {p95: 800ms}
expectations:
  - fault: {target: reviews, kind: down}
    unaffected: [product]
  - fault: {target: catalog, kind: down}
    degraded: [checkout]
""",
    source="shop.yaml",
)
GRAPH = CallGraph(
    {
        "browse": JourneyGraph(
            "browse", 40, frozenset({"gateway", "catalog"}), frozenset({("gateway", "catalog")})
        ),
        "product": JourneyGraph(
            "product",
            30,
            frozenset({"gateway", "catalog", "reviews"}),
            frozenset({("gateway", "catalog"), ("gateway", "reviews")}),
        ),
        "checkout": JourneyGraph(
            "checkout", 20, frozenset({"gateway", "payments"}), frozenset({("gateway", "payments")})
        ),
    }
)
CELLS = {c.id: c for c in plan_cells(SPEC)}
JOURNEYS = SPEC.journeys


def claims(cell_id: str, graph: CallGraph = GRAPH) -> dict[str, tuple[str, str]]:
    found, _ = expect(CELLS[cell_id], JOURNEYS, graph, SPEC)
    return {c.journey: (c.role, c.source) for c in found}


def test_undeclared_claims_come_from_the_call_graph() -> None:
    got = claims("payments:latency")
    assert got["checkout"] == ("degraded", "derived: its traces reach payments")
    assert got["browse"] == ("unaffected", "derived: none of its 40 traces reach payments")
    assert claims("nats:down")["checkout"][0] == "unaffected"  # no spans: reached by no one


def test_a_replica_of_a_replicated_service_and_hostile_input_affect_no_one() -> None:
    assert {role for role, _ in claims("payments/0:kill").values()} == {"unaffected"}
    assert "2 replicas" in claims("payments/0:pause")["checkout"][1]
    assert {role for role, _ in claims("gateway:hostile_input").values()} == {"unaffected"}


def test_declared_claims_win_and_contradictions_are_findings() -> None:
    got = claims("reviews:down")
    assert got["product"] == ("unaffected", "declared at shop.yaml:15")
    assert got["browse"][1].startswith("derived")
    _, findings = expect(CELLS["reviews:down"], JOURNEYS, GRAPH, SPEC)
    assert [(f.journey, "fallback" in f.text) for f in findings] == [("product", True)]
    _, stale = expect(CELLS["catalog:down"], JOURNEYS, GRAPH, SPEC)
    assert [(f.journey, "stale" in f.text) for f in stale] == [("checkout", True)]


def test_a_journey_without_traces_is_not_claimed_unaffected() -> None:
    role, source = claims("catalog:latency", CallGraph({}))["browse"]
    assert role == "degraded" and "no traced request" in source
