"""The pure modules chaos/ imports never pull in Locust or gevent (which patch the interpreter)."""

from __future__ import annotations

import subprocess
import sys

PURE = [
    "loadtests.arrivals",
    "loadtests.errors",
    "loadtests.options",
    "loadtests.runner",
    "loadtests.run",
    "loadtests.samples",
    "loadtests.shapes",
    "loadtests.slo",
    "loadtests.units",
    "chaos.judgement.slo",
    "loadtests.windows",
]


def test_pure_modules_do_not_import_locust_or_gevent() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PURE)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent'))\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
