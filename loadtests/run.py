"""`python -m loadtests.run`: run a locustfile headless with a gameday shape and SLO file.

    python -m loadtests.run -f loadtests/locustfile.py --host http://127.0.0.1:8000 \\
        --shape spike --users 10 --duration 60s --slo slo.yaml --set spike_at=20s

It only builds the `locust` command (see `loadtests.runner.locust_command`) and runs it in
the foreground; its exit code is Locust's: 0, 99 on an SLO breach, 2 on bad options.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from loadtests.errors import LoadtestError
from loadtests.options import default_run_dir
from loadtests.runner import LoadSpec, locust_command
from loadtests.shapes import SHAPES
from loadtests.units import parse_duration


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m loadtests.run`."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("-f", "--locustfile", required=True, type=Path)
    parser.add_argument("--host", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--shape", default="steady", choices=list(SHAPES))
    parser.add_argument("--users", type=int)
    parser.add_argument("--spawn-rate", type=float)
    parser.add_argument("--duration", type=parse_duration, help="e.g. 90s or 5m")
    parser.add_argument("--slo", type=Path, help="SLO thresholds YAML")
    parser.add_argument("--run-dir", type=Path, help="default: .gameday/runs/load-<time>")
    parser.add_argument("--processes", type=int, help="Locust worker processes")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another shape parameter, e.g. spike_at=20s (repeatable)",
    )
    parser.add_argument("locust_args", nargs="*", help="after --: passed to locust as they are")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load in the foreground and return Locust's exit code."""
    args = build_parser().parse_args(argv)
    shape_options: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"--set {item!r}: write NAME=VALUE, e.g. spike_at=20s", file=sys.stderr)
            return 2
        shape_options[name.strip()] = value.strip()
    try:
        spec = LoadSpec(
            locustfile=args.locustfile,
            host=args.host,
            run_dir=args.run_dir or default_run_dir(time.time()),
            shape=args.shape,
            users=args.users,
            spawn_rate=args.spawn_rate,
            duration=args.duration,
            slo=args.slo,
            processes=args.processes,
            shape_options=shape_options,
            extra_args=tuple(args.locust_args),
        )
    except LoadtestError as exc:
        print(f"loadtests.run: {exc}", file=sys.stderr)
        return 2
    return subprocess.call(locust_command(spec))


if __name__ == "__main__":
    sys.exit(main())
