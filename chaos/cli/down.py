"""`gameday down`: stop the supervisor and everything it started, and check nothing is left.

SIGTERM first (the supervisor stops callers before callees, infrastructure last), SIGKILL
after the grace period; every PID and process group of the run must be gone afterwards.
"""

from __future__ import annotations

import argparse

HELP = "stop the system `gameday up` started (every process it started, verified by PID)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday down`."""
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between SIGTERM and SIGKILL (default 10)",
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        help="stop the processes of this run directory even without a state file",
    )
    parser.add_argument("--state-file", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """0 when everything is gone, 1 when something survived."""
    from pathlib import Path

    from chaos.runtime.state import STATE_FILE, read_state, stop_run

    path = Path(args.state_file or STATE_FILE)
    state = read_state(path)
    if state is None and args.run_dir:
        state = {"run_dir": str(Path(args.run_dir).resolve())}
    if state is None:
        print(f"gameday down: nothing to stop (no {path}; `gameday up` writes it)")
        return 0
    stopped, survivors = stop_run(state, args.grace)
    if survivors:
        print(f"gameday down: processes {survivors} survived SIGKILL; {path} is kept")
        return 1
    path.unlink(missing_ok=True)
    name = state.get("system", "the system")
    print(f"gameday down: stopped {name} ({len(stopped)} processes); run dir {state['run_dir']}")
    return 0
