"""`gameday ci SYSTEM_FILE`: the fault-isolation matrix as a CI gate.

    gameday ci sample_system/system.yaml

The same run as `gameday matrix` (same options), written for CI logs: one line per cell
while it runs, then the verdict table; junit.xml (one test case per cell and journey),
summary.md and report.html in the run directory. Under GitHub Actions the summary is also
appended to the job summary ($GITHUB_STEP_SUMMARY) and each failed cell is an error
annotation. Exit codes as `gameday matrix`: 0 every cell held; 1 a cell did not; 2 invalid
input or a failed run; 3 not steady before the faults; 4 invariants violated; 130/143
interrupted.
"""

from __future__ import annotations

import argparse

HELP = "the fault-isolation matrix as a CI gate: JUnit, summary, report, exit code"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday ci`: those of `gameday matrix`."""
    from chaos.cli.matrix import add_arguments as matrix_arguments

    matrix_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the matrix; then tell the CI system about it."""
    import os

    from chaos.cli.matrix import execute
    from chaos.report.files import JUNIT, SUMMARY

    result = execute(args)
    if args.plan or not result.outputs:
        return result.exit_code
    print(
        f"gameday ci: JUnit {result.run_dir / JUNIT}; summary {result.run_dir / SUMMARY}; "
        f"report {result.run_dir / 'report.html'}"
    )
    if os.environ.get("GITHUB_ACTIONS") == "true" and result.verdict is not None:
        for cell in result.verdict.failed:
            problems = [p for j in cell.journeys for p in j.problems] + list(cell.record.problems)
            print(f"::error title=gameday cell {cell.cell.id}::{'; '.join(problems)[:900]}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and (result.run_dir / SUMMARY).exists():
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write((result.run_dir / SUMMARY).read_text())
    return result.exit_code
