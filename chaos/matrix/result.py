"""What a matrix run gives back, and the checks made before one starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaos.errors import GamedayError
from chaos.experiment.crashed import RUNS_DIR
from chaos.experiment.invariants import InvariantResult
from chaos.faults.journal import unique_run_dir
from chaos.judgement.matrix import MatrixVerdict
from chaos.matrix.callgraph import CallGraph
from chaos.matrix.expectations import Claim, Finding
from chaos.matrix.plan import Cell
from chaos.system.model import SystemSpec

LOAD_DIR = "load"  # the run directory's folder for the load's samples and logs


class Observer(Protocol):
    """Follows a matrix run (progress lines in the CLI). Its errors are logged, never raised."""

    def phase(self, name: str, seconds: float) -> None: ...
    def cell_done(self, cell: Cell, index: int, total: int, recovered: float | None) -> None: ...


@dataclass
class MatrixResult:
    """The outcome of one matrix run and where its outputs are."""

    run_dir: Path
    system: SystemSpec
    cells: list[Cell]
    status: str = "running"
    verdict: MatrixVerdict | None = None
    call_graph: CallGraph | None = None
    invariants: InvariantResult | None = None
    error: str | None = None
    exit_code: int = 2
    wall_seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    claims: dict[str, tuple[Claim, ...]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def new_run_dir(spec: SystemSpec, root: Path = RUNS_DIR) -> Path:
    """`.gameday/runs/matrix-<system>-<UTC time>` (unique)."""
    return unique_run_dir(root, f"matrix-{spec.name}")


def check_runnable(spec: SystemSpec) -> None:
    """GamedayError unless the system file has what a matrix needs (before anything starts)."""
    if spec.slo is None or not spec.journeys:
        raise GamedayError(f"{spec.source} has no journeys: the matrix judges their SLOs")
    if spec.load is None:
        raise GamedayError(
            f"{spec.source} has no load: section; the matrix needs to know how to load the "
            "system, e.g. 'load: {locustfile: ../loadtests/locustfile.py, users: 4}'"
        )
    if not spec.public:
        raise GamedayError(
            f"{spec.source} marks no service public: true; the load needs an entry point"
        )


def cell_json(cell: Cell) -> dict[str, Any]:
    """A cell as the journal's plan lists it."""
    return {
        "id": cell.id,
        "target": str(cell.target),
        "kind": cell.kind,
        "fault": None if cell.fault is None else cell.fault.kind,
        "declared": None if cell.declared is None else cell.declared.where,
        "skip": cell.skip,
        "same_as": cell.same_as,
    }
