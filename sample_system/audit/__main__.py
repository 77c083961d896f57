"""`python -m sample_system.audit`: check the shop's invariants, print JSON, exit 1 on violations.

    python -m sample_system.audit --orders http://127.0.0.1:8004 --payments ... \
        --inventory ... --notifications ... [--wait 30] [--grace 0]

Without flags the URLs come from ORDERS_URLS, PAYMENTS_URLS, INVENTORY_URLS and
NOTIFICATIONS_URLS. Standard output is one JSON document (its format: `report.py`; the
invariants: docs/sample-system.md); standard error has a summary for people. Exit codes: 0
no violation, 1 violations (listed), 2 a service could not be read (the message says which
and how to fix it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from sample_system.audit.collect import SERVICES, AuditUnreachable, Targets, audit
from sample_system.common import config
from sample_system.common.errors import ConfigError

EXIT_OK, EXIT_VIOLATIONS, EXIT_UNREADABLE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sample_system.audit", description=(__doc__ or "").splitlines()[0]
    )
    for name in SERVICES:
        parser.add_argument(f"--{name}", metavar="URL", help=f"base URL of {name}")
    parser.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS",
        help="re-read for up to this long while an invariant is broken (right after load or a "
        "fault: notifications and the reconciler catch up)",
    )  # fmt: skip
    parser.add_argument(
        "--grace", type=float, default=0.0, metavar="SECONDS",
        help="while load runs: how long an order may stay pending, or a confirmation wait for "
        "its notification and event, before it counts (default 0: the shop is quiet)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the audit; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        env = dict(os.environ)
        for name in SERVICES:
            if getattr(args, name):
                env[config.env_name(name)] = getattr(args, name)
        report = audit(Targets.from_env(env), wait=args.wait, grace=args.grace)
    except (ConfigError, AuditUnreachable) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), file=sys.stderr)
        return EXIT_UNREADABLE
    print(json.dumps(report.as_dict(), indent=2))
    print("\n".join(report.lines()), file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_VIOLATIONS


if __name__ == "__main__":
    sys.exit(main())
