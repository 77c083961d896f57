"""`python -m sample_system.audit`: check the shop's invariants; print JSON; exit 1 on violations.

    python -m sample_system.audit --orders http://127.0.0.1:8004 --payments ... \
        --inventory ... --notifications ... [--wait 30]

Without flags the URLs come from ORDERS_URLS, PAYMENTS_URLS, INVENTORY_URLS and
NOTIFICATIONS_URLS. Exit codes: 0 no violation, 1 violations (listed), 2 a service could not
be read (the message says which and how to fix it).
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the audit; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m sample_system.audit", description=__doc__.splitlines()[0]
    )
    for name in SERVICES:
        parser.add_argument(f"--{name}", metavar="URL", help=f"base URL of {name}")
    parser.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS",
        help="re-read for up to this long while violations or pending orders remain (use it "
        "while load runs, or right after: notifications and the reconciler catch up)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        env = dict(os.environ)
        for name in SERVICES:
            if getattr(args, name):
                env[config.env_name(name)] = getattr(args, name)
        report = audit(Targets.from_env(env), wait=args.wait)
    except (ConfigError, AuditUnreachable) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
