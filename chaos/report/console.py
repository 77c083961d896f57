"""Printing verdicts at the end of `gameday run`, `gameday matrix` and `gameday ci`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from chaos.experiment.model import Experiment
    from chaos.experiment.runner import RunResult
    from chaos.matrix.runner import MatrixResult


def print_results(runs: list[tuple[Experiment, RunResult]], console: Console | None = None) -> None:
    """One table of every journey verdict, then where each report is."""
    from chaos.report.files import HEADER, SUMMARY, journey_row

    # Not a terminal (CI logs, pipes): wide enough that the table does not wrap.
    console = console or _console()
    table = Table(title="gameday verdicts", show_lines=False)
    for column in ("experiment", *HEADER):
        table.add_column(column)
    for experiment, result in runs:
        if result.verdict is None:
            table.add_row(experiment.name, "-", "-", result.status.upper(), result.error or "")
            continue
        for row in (journey_row(j) for j in result.verdict.journeys):
            style = "green" if row[2] == "PASS" else "red"
            table.add_row(experiment.name, *row, style=style)
    console.print(table)
    for experiment, result in runs:
        outcome = result.verdict.outcome.label if result.verdict else result.status
        if result.invariants is not None and not result.invariants.passed:
            outcome += f", invariants VIOLATED: {result.invariants.summary()}"
        console.print(
            f"{experiment.name}: {outcome} (exit {result.exit_code}) — report: "
            f"{result.run_dir / SUMMARY}"
        )


def _console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=160)


def print_plan(result: MatrixResult, console: Console | None = None) -> None:
    """The plan of a matrix: every cell and what it expects of each journey, the call graph."""
    console = console or _console()
    journeys = result.system.journeys
    table = Table(title=f"matrix plan of {result.system.name}")
    table.add_column("cell")
    table.add_column("runs")
    for journey in journeys:
        table.add_column(journey)
    for cell in result.cells:
        runs = "yes" if cell.runs else (f"= {cell.same_as}" if cell.same_as else "skip")
        claims = {c.journey: c for c in result.claims.get(cell.id, ())}
        row = [
            (claims[j].role + ("*" if claims[j].declared else "")) if j in claims else "-"
            for j in journeys
        ]
        table.add_row(cell.id, runs, *row)
    console.print(table)
    console.print("* declared in the system file; the rest derived from the call graph")
    for cell in result.cells:
        if cell.skip:
            console.print(f"skip {cell.id}: {cell.skip}")
    if result.call_graph is not None:
        console.print("call graph (synchronous edges seen in the baseline's traces):")
        for graph in result.call_graph.journeys.values():
            edges = ", ".join(f"{a}->{b}" for a, b in sorted(graph.edges)) or "none"
            console.print(f"  {graph.journey} ({graph.traces} traces): {edges}")
    for finding in result.findings:
        console.print(f"finding: {finding.text}", style="yellow")


def print_matrix(result: MatrixResult, console: Console | None = None) -> None:
    """The verdict table of a matrix run, the findings, and where the reports are."""
    from chaos.report.matrix import MATRIX_HEADER, cell_row

    console = console or _console()
    verdict = result.verdict
    if verdict is not None:
        table = Table(title=f"gameday matrix of {result.system.name}")
        for column in MATRIX_HEADER:
            table.add_column(column, overflow="fold")
        for cell in verdict.cells:
            table.add_row(*cell_row(cell), style="green" if cell.passed else "red")
        console.print(table)
        for finding in verdict.findings:
            console.print(f"finding: {finding.text}", style="yellow")
        outcome = verdict.outcome.label
        if result.invariants is not None and not result.invariants.passed:
            outcome += f", invariants VIOLATED: {result.invariants.summary()}"
        console.print(
            f"matrix: {outcome}: {len(verdict.failed)} of {len(verdict.cells)} cells failed "
            f"(exit {result.exit_code}, {result.wall_seconds:.0f}s)"
        )
    for path in result.outputs:
        console.print(f"  {path}")
