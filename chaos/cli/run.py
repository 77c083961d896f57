"""`gameday run EXPERIMENT...`: experiments under load, with a live view and verdicts.

Exit codes: 0 every hypothesis held; 1 one was rejected; 2 an experiment is invalid or a
run failed; 3 the system was outside its SLO before the fault; 4 the invariants were
violated; 130 / 143 interrupted by Ctrl-C / SIGTERM (faults removed, processes stopped).
With several experiments the exit code is the worst one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.experiment.model import Experiment
    from chaos.experiment.runner import RunResult

HELP = "run chaos experiments under load and judge their hypotheses"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday run`."""
    parser.add_argument("experiments", nargs="+", metavar="EXPERIMENT", help="experiment YAML")
    parser.add_argument("--run-dir", metavar="DIR", help="where outputs go (one experiment only)")
    parser.add_argument("--no-live", action="store_true", help="no live display (for CI logs)")
    parser.add_argument(
        "--attach",
        action="store_true",
        help="use the system `gameday up` is running instead of starting one (proxy faults "
        "only); without it, a run of the system `gameday up` runs attaches when it can and is "
        "refused when it cannot",
    )
    parser.add_argument(
        "--prometheus",
        action="store_true",
        help="also run Prometheus (game-day rules); the journal records the alerts per phase",
    )


def run_all(
    experiments: list[Experiment],
    *,
    run_dir: Path | None,
    live: bool,
    attach: list[bool],
    prometheus: bool = False,
) -> list[RunResult]:
    """Run experiments one after another (`attach[i]`: experiment i runs against the system
    `gameday up` runs); stop early when interrupted."""
    import sys

    from chaos.experiment.runner import run_experiment
    from chaos.report.files import write_outputs
    from chaos.report.live import LiveDisplay
    from chaos.runtime.state import STATE_FILE

    results = []
    for experiment, attached in zip(experiments, attach, strict=True):
        attach_to = STATE_FILE if attached else None
        if live and sys.stderr.isatty():
            with LiveDisplay(experiment) as display:
                result = run_experiment(
                    experiment,
                    run_dir=run_dir,
                    observers=[display],
                    write_outputs=write_outputs,
                    attach_to=attach_to,
                    prometheus=prometheus,
                )
        else:
            print(
                f"gameday: running {experiment.name} ({experiment.schedule.total:.0f}s)...",
                flush=True,
            )
            result = run_experiment(
                experiment,
                run_dir=run_dir,
                write_outputs=write_outputs,
                attach_to=attach_to,
                prometheus=prometheus,
            )
        results.append(result)
        if result.exit_code >= 128:
            break
    return results


def worst_exit_code(results: list[RunResult]) -> int:
    """Interruptions first, then the highest code."""
    codes = [r.exit_code for r in results]
    interrupted = [c for c in codes if c >= 128]
    return interrupted[0] if interrupted else max(codes, default=0)


def run(args: argparse.Namespace) -> int:
    """Validate every experiment, then run them."""
    from chaos.experiment.attach import choose
    from chaos.experiment.file import load_experiment
    from chaos.experiment.runner import validate
    from chaos.report.console import print_results
    from chaos.runtime.state import STATE_FILE

    experiments = [load_experiment(path) for path in args.experiments]
    for experiment in experiments:  # every file valid against its system before any run
        validate(experiment)
    if args.run_dir and len(experiments) > 1:
        print("gameday run: --run-dir takes one experiment; drop it to get one dir per run")
        return 2
    # Against a running `gameday up` of the same system: attach, or refuse — before any run.
    choices = [choose(e, STATE_FILE, asked=args.attach) for e in experiments]
    for note in dict.fromkeys(c.note for c in choices if c.note):
        print(f"gameday run: {note}", flush=True)
    results = run_all(
        experiments,
        run_dir=Path(args.run_dir) if args.run_dir else None,
        live=not args.no_live,
        attach=[c.attach for c in choices],
        prometheus=args.prometheus,
    )
    print_results(list(zip(experiments, results, strict=False)))
    return worst_exit_code(results)
