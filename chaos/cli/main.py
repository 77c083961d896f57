"""The `gameday` command line: one sub-command per module, imported only when used.

Each command module exposes `HELP: str`, `add_arguments(parser)` and `run(args) -> int`.
Command modules keep heavy imports inside `run` so `gameday --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from chaos.errors import GamedayError

# name -> module implementing it; the order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "proxy": "chaos.proxy.cli",
    "up": "chaos.cli.up",
    "down": "chaos.cli.down",
    "status": "chaos.cli.status",
    "run": "chaos.cli.run",
    "rollback": "chaos.cli.rollback",
    "matrix": "chaos.cli.matrix",
    "ci": "chaos.cli.ci",
    "render": "chaos.cli.render",
    "scale": "chaos.cli.scale",
}


def _load(module: str) -> ModuleType:
    return importlib.import_module(module)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser; only the chosen sub-command's module is imported for its options."""
    parser = argparse.ArgumentParser(
        prog="gameday", description="Observability and chaos testing for Python microservices."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module in COMMANDS.items():
        if name == chosen:
            mod = _load(module)
            cmd = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
            mod.add_arguments(cmd)
            cmd.set_defaults(_run=mod.run)
        else:
            sub.add_parser(name, help=_load(module).HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gameday` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    if args.command not in ("proxy", "rollback"):  # rollback does it itself, after undoing
        _settle_crashed_runs()
    try:
        code: int = args._run(args)
    except GamedayError as exc:
        print(f"gameday {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _settle_crashed_runs() -> None:
    """A run whose process died is marked crashed, with its summary, by the next command."""
    from chaos.experiment.crashed import settle_and_tell

    try:
        for line in settle_and_tell():
            print(line, file=sys.stderr)
    except (GamedayError, OSError) as exc:  # never stands in the way of the command itself
        print(f"gameday: could not check .gameday/runs for crashed runs: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
