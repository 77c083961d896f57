"""`gameday matrix SYSTEM_FILE`: the fault-isolation matrix of a system, judged cell by cell.

    gameday matrix sample_system/system.yaml                     # every cell, default faults
    gameday matrix sample_system/system.yaml --faults down,latency --only payments
    gameday matrix sample_system/system.yaml --plan              # plan + call graph, no fault

Exit codes (as `gameday run`): 0 every cell held; 1 a cell did not; 2 the system file or an
option is invalid, or the run failed; 3 the system was outside its SLO before the faults;
4 the invariants were violated; 130 / 143 interrupted (faults removed, processes stopped).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.matrix.plan import Cell
    from chaos.matrix.runner import MatrixResult

HELP = "run the fault-isolation matrix of a system: every target x fault kind, judged"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday matrix` (and `gameday ci`)."""
    parser.add_argument("system", help="system file, e.g. sample_system/system.yaml")
    parser.add_argument(
        "--faults",
        metavar="KINDS",
        help="comma-separated fault kinds (default: the system file's matrix.faults, else "
        "down,latency,slow,reset_peer,pause,kill,hostile_input)",
    )
    parser.add_argument(
        "--only",
        metavar="TARGET",
        help="only the cells of this target: a service (and its replicas and edges), "
        "a replica (payments/0) or an edge (orders->payments)",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="start the system, read the call graph from the baseline's traces, print the plan "
        "with every cell's expectations; inject nothing",
    )
    parser.add_argument("--run-dir", metavar="DIR", help="where outputs go")
    parser.add_argument(
        "--attach",
        action="store_true",
        help="use the system `gameday up` is running (proxy faults only; kill and pause "
        "cells are skipped)",
    )


class Progress:
    """One line per phase and per cell, for terminals and CI logs alike."""

    def phase(self, name: str, seconds: float) -> None:
        """A phase began."""
        if name != "invariants":
            print(f"gameday matrix: {name} ({seconds:.0f}s)", flush=True)

    def cell_done(self, cell: Cell, index: int, total: int, recovered: float | None) -> None:
        """A cell's fault was removed and the system recovered (or not)."""
        after = "NOT recovered" if recovered is None else f"recovered after {recovered:.1f}s"
        print(f"  [{index:>2}/{total}] {cell.id:<34} {after}", flush=True)


def prepare(args: argparse.Namespace) -> tuple[object, list[Cell]]:
    """Load and check the system file and the plan before anything starts."""
    from chaos.matrix.plan import parse_kinds, plan_cells
    from chaos.matrix.runner import check_runnable
    from chaos.system.model import load_system

    spec = load_system(args.system)
    check_runnable(spec)
    kinds = parse_kinds(args.faults) if args.faults else None
    return spec, plan_cells(spec, kinds=kinds, only=args.only)


def run(args: argparse.Namespace) -> int:
    """Plan, run, judge, write the outputs, print the verdicts."""
    return execute(args).exit_code


def execute(args: argparse.Namespace) -> MatrixResult:
    """What `run` does, returning the whole result (for `gameday ci`)."""
    from pathlib import Path

    from chaos.matrix.runner import run_matrix
    from chaos.report.console import print_matrix, print_plan
    from chaos.report.html.write import write_matrix_report
    from chaos.report.matrix import write_matrix_outputs
    from chaos.runtime.state import STATE_FILE
    from chaos.system.model import SystemSpec

    spec, cells = prepare(args)
    assert isinstance(spec, SystemSpec)
    running = sum(c.runs for c in cells)
    window = spec.matrix.window
    print(
        f"gameday matrix: {spec.name}: {len(cells)} cells, {running} to inject "
        f"({window:.0f}s window each){' — plan only' if args.plan else ''}",
        flush=True,
    )

    def outputs(result: MatrixResult, journal: object) -> list[Path]:
        written = write_matrix_outputs(result, journal)  # type: ignore[arg-type]
        return [*written, write_matrix_report(result)]

    result = run_matrix(
        spec,
        cells,
        run_dir=Path(args.run_dir).resolve() if args.run_dir else None,
        observers=[Progress()],
        write_outputs=None if args.plan else outputs,
        attach_to=STATE_FILE if args.attach else None,
        plan_only=args.plan,
    )
    if args.plan:
        print_plan(result)
    else:
        print_matrix(result)
    if result.error:
        print(f"gameday matrix: {result.status}: {result.error}", file=sys.stderr)
    return result
