"""`gameday up`: start a system locally, detached by default, and print where everything is.

    gameday up                                   # sample_system/system.yaml
    gameday up path/to/system.yaml --replicas payments=3 --prometheus
    gameday up --foreground                      # stay attached; Ctrl-C stops everything

Detached, a supervisor process (`gameday up --foreground` in its own session) keeps the
system running and rewrites `.gameday/current.json`; `gameday down` stops it.
"""

from __future__ import annotations

import argparse

HELP = "start a system locally: infrastructure, fault proxy, every replica (see docs/runtime.md)"
DEFAULT_SYSTEM = "sample_system/system.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday up`."""
    parser.add_argument(
        "system", nargs="?", default=DEFAULT_SYSTEM, help=f"system file (default {DEFAULT_SYSTEM})"
    )
    parser.add_argument(
        "--replicas",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="run N replicas of SERVICE (repeatable, or comma-separated: payments=3,orders=2)",
    )
    parser.add_argument(
        "--prometheus", action="store_true", help="also run Prometheus (binary on PATH)"
    )
    parser.add_argument(
        "--run-dir",
        metavar="DIR",
        help="where logs, data and topology.json go (default: .gameday/runs/<system>-<time>-<pid>)",
    )
    parser.add_argument(
        "--foreground", action="store_true", help="stay attached; Ctrl-C or SIGTERM stops all"
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds each process may take to become ready (default 60)",
    )
    parser.add_argument("--state-file", default=None, help=argparse.SUPPRESS)


def parse_replicas(values: list[str]) -> dict[str, int]:
    """`["payments=3", "orders=2,reviews=1"]` -> {"payments": 3, ...}; ConfigInvalid if not."""
    from chaos.errors import ConfigInvalid

    counts: dict[str, int] = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            name, sep, count = item.partition("=")
            if not sep or not name.strip() or not count.strip().isdigit():
                raise ConfigInvalid(
                    f"--replicas {item!r} must be SERVICE=COUNT, e.g. --replicas payments=3"
                )
            counts[name.strip()] = int(count)
    return counts


def run(args: argparse.Namespace) -> int:
    """Validate, then start detached (or in the foreground with --foreground)."""
    from pathlib import Path

    from chaos.runtime import launcher, prometheus
    from chaos.runtime.state import STATE_FILE
    from chaos.system.model import load_system
    from chaos.system.topology import check_replicas

    spec = load_system(args.system)
    replicas = parse_replicas(args.replicas)
    check_replicas(spec, replicas)
    if args.prometheus:
        prometheus.find_binary()  # before anything starts
    options = launcher.Options(
        system=str(Path(args.system).resolve()),
        replicas=replicas,
        prometheus=args.prometheus,
        run_dir=Path(args.run_dir).resolve() if args.run_dir else None,
        ready_timeout=args.ready_timeout,
        state_file=Path(args.state_file or STATE_FILE).resolve(),
    )
    if args.foreground:
        return launcher.foreground(spec, options)
    return launcher.detach(spec, options)
