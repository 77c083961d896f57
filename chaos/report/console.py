"""Printing verdicts at the end of `gameday run` and `gameday demo`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from chaos.experiment.model import Experiment
    from chaos.experiment.runner import RunResult


def print_results(runs: list[tuple[Experiment, RunResult]], console: Console | None = None) -> None:
    """One table of every journey verdict, then where each report is."""
    from chaos.report.files import HEADER, SUMMARY, journey_row

    # Not a terminal (CI logs, pipes): wide enough that the table does not wrap.
    console = console or (Console() if sys.stdout.isatty() else Console(width=140))
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
            outcome += ", invariants VIOLATED"
        console.print(
            f"{experiment.name}: {outcome} (exit {result.exit_code}) — report: "
            f"{result.run_dir / SUMMARY}"
        )
