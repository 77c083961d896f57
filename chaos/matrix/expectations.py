"""What each cell of the matrix expects of each journey, declared or derived from traces. Pure.

For every cell and journey:

1. The system file's expectation for the cell, when there is one and it names the journey
   (`unaffected` or `degraded`).
2. Otherwise, derived from the journey's call graph (`chaos.matrix.callgraph`):
   - hostile input: every journey is unaffected (bad requests must not hurt other users);
   - one replica of a service that runs several: unaffected (the other replicas take over);
   - a target the journey's traces never reach: unaffected;
   - a target they reach: degraded (it may fail, but fast: `matrix.deadlines`).

A declared claim that the traces contradict is a finding of its own: a journey declared
unaffected by a target its traces reach (the claim rests on a fallback or a cache: the cell's
verdict tells whether it holds), or declared degraded by a target none of its traces reach
(the claim is stale, or the dependency is not on the request path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chaos.matrix.callgraph import CallGraph
from chaos.matrix.plan import Cell
from chaos.system.model import SystemSpec

Role = Literal["unaffected", "degraded"]


@dataclass(frozen=True)
class Claim:
    """What a cell expects of one journey, and where the expectation comes from."""

    journey: str
    role: Role
    source: str  # "declared at system.yaml:62" or "derived: ..."

    @property
    def declared(self) -> bool:
        """True when the system file states it."""
        return self.source.startswith("declared")


@dataclass(frozen=True)
class Finding:
    """A declared expectation that the observed call graph contradicts."""

    cell: str
    journey: str
    text: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"cell": self.cell, "journey": self.journey, "text": self.text}


def expect(
    cell: Cell, journeys: Sequence[str], graph: CallGraph, spec: SystemSpec
) -> tuple[tuple[Claim, ...], tuple[Finding, ...]]:
    """The claims of `cell` on every journey, and the findings its declaration raises."""
    claims: list[Claim] = []
    findings: list[Finding] = []
    declared = cell.declared
    target = cell.target
    for journey in journeys:
        journey_graph = graph.of(journey)
        reached = journey_graph.reaches(target)
        traced = journey_graph.traces
        if declared is not None and journey in (*declared.unaffected, *declared.degraded):
            role: Role = "unaffected" if journey in declared.unaffected else "degraded"
            claims.append(Claim(journey, role, f"declared at {declared.where}"))
            if role == "unaffected" and reached and target.kind != "replica":
                findings.append(
                    Finding(
                        cell.id,
                        journey,
                        f"{journey} is declared unaffected by {cell.id}, but its traces reach "
                        f"{_what(cell)}: the claim rests on a fallback or a cache",
                    )
                )
            elif role == "degraded" and traced and not reached:
                findings.append(
                    Finding(
                        cell.id,
                        journey,
                        f"{journey} is declared degraded by {cell.id}, but none of its {traced} "
                        f"traces reach {_what(cell)}: the claim is stale, or the dependency is not "
                        "on the request path",
                    )
                )
            continue
        claims.append(_derive(cell, journey, reached, traced, spec))
    return tuple(claims), tuple(findings)


def _derive(cell: Cell, journey: str, reached: bool, traced: int, spec: SystemSpec) -> Claim:
    target = cell.target
    if cell.kind == "hostile_input":
        return Claim(journey, "unaffected", "derived: hostile requests must not hurt other users")
    if target.kind == "replica":
        replicas = spec.components[target.service].replicas
        return Claim(
            journey,
            "unaffected",
            f"derived: {target.service} runs {replicas} replicas, the others take over",
        )
    if not traced:
        return Claim(journey, "degraded", "derived: no traced request to tell, so it may fail")
    if reached:
        return Claim(journey, "degraded", f"derived: its traces reach {_what(cell)}")
    return Claim(journey, "unaffected", f"derived: none of its {traced} traces reach {_what(cell)}")


def _what(cell: Cell) -> str:
    return str(cell.target) if cell.target.kind == "edge" else cell.target.service
