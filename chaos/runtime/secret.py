"""The run's secret: generated for each system run, so its services can authenticate each other.

Every service process gets it as `GAMEDAY_RUN_SECRET` in its environment (never on a command
line, in topology.json, an event or a log), and so does an experiment's invariants command.
It is also kept in `<run dir>/secret`, readable by its owner only, for `--attach` runs and for
people calling a service by hand. What a system does with it is its own business (the sample
shop sends it as a bearer token between its services).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_ENV = "GAMEDAY_RUN_SECRET"
SECRET_FILE = "secret"


def new_secret(run_dir: Path) -> str:
    """A fresh secret for a run, written to `<run_dir>/secret` (mode 0600)."""
    secret = secrets.token_urlsafe(32)
    path = run_dir / SECRET_FILE
    scratch = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    scratch.replace(path)
    return secret


def read_secret(run_dir: Path) -> str | None:
    """The secret of the run in `run_dir`; None if it has none (a run of an older gameday)."""
    try:
        return (run_dir / SECRET_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None
