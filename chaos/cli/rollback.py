"""`gameday rollback [RUN_DIR]`: undo what crashed runs left (faults, then processes)."""

from __future__ import annotations

import argparse

HELP = (
    "undo faults and stop processes that a crashed `gameday run` left behind; "
    "mark it crashed and write its summary"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday rollback`."""
    parser.add_argument(
        "path",
        nargs="?",
        default=".gameday/runs",
        help="a run directory, or the directory of runs (default .gameday/runs)",
    )


def run(args: argparse.Namespace) -> int:
    """0 when nothing is left, 1 when something could not be undone."""
    from pathlib import Path

    from chaos.experiment.crashed import write_crash_outputs
    from chaos.faults.journal import Journal
    from chaos.faults.rollback import rollback

    root = Path(args.path)
    if not root.exists():
        print(f"gameday rollback: {root} does not exist; nothing to roll back")
        return 0
    reports = rollback(root)
    if not reports:
        print(f"gameday rollback: nothing to roll back under {root}")
        return 0
    failed = False
    for report in reports:
        print(f"{report.run_dir}:")
        if report.note:
            print(f"  {report.note}")
            continue
        for line in report.undone:
            print(f"  undone: {line}")
        if report.stopped:
            print(f"  stopped processes: {', '.join(map(str, report.stopped))}")
        for error in report.errors:
            failed = True
            print(f"  FAILED: {error}")
        journal = Journal.load(report.run_dir)
        if journal.status == "crashed":  # its outputs say what was rolled back
            outputs = write_crash_outputs(journal)
            print(f"  the run crashed: {journal.data.get('error')}; summary: {outputs[0]}")
    return 1 if failed else 0
