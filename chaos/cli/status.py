"""`gameday status`: what runs, whether each process answers its readiness probe now, and
what a run that died left behind (faults still applied, processes), with the command to undo it.
"""

from __future__ import annotations

import argparse

HELP = "show the processes of the running system: pid, port, state, health, restarts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday status`."""
    parser.add_argument("--json", action="store_true", help="print the state as JSON")
    parser.add_argument("--state-file", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """0 when a system runs and every process is healthy, 1 otherwise."""
    import json
    import sys
    from pathlib import Path

    from chaos.experiment.crashed import RUNS_DIR, left_behind
    from chaos.runtime.health import check
    from chaos.runtime.state import STATE_FILE, leftovers, read_state, supervisor_alive
    from chaos.runtime.table import render

    path = Path(args.state_file or STATE_FILE)
    dead_runs = left_behind(RUNS_DIR)
    for run in dead_runs:
        print(
            f"gameday status: the run in {run.run_dir} {run.what_happened()} and left "
            f"{run.describe()}; undo it with `{run.rollback_command()}`",
            file=sys.stderr if args.json else sys.stdout,  # --json: stdout stays JSON
        )
    state = read_state(path)
    if state is None:
        print(f"gameday status: no system runs here (no {path}); start one with `gameday up`")
        return 1
    if not supervisor_alive(state):
        left = leftovers(state)
        print(
            f"gameday status: the supervisor of {state.get('system')} is gone; "
            + (
                f"processes {left} are left: run `gameday down`"
                if left
                else "nothing is left; `gameday down` clears the state file"
            )
        )
        return 1
    healthy = {
        (p["service"], p["replica"]): p["pid"] is not None and check(p["port"], p["health"], 1.0)[0]
        for p in state.get("processes") or ()
    }
    if args.json:
        rows = [{**p, "healthy": healthy[p["service"], p["replica"]]} for p in state["processes"]]
        print(json.dumps({**state, "processes": rows}, indent=2))
    else:
        print(render(state, healthy))
    return 0 if state.get("status") == "running" and all(healthy.values()) and not dead_runs else 1
