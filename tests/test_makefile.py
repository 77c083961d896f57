"""The Makefile's choice of Python: the first one >= 3.11 that runs, without noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

# What a pyenv shim of a version that is not selected does when run.
SHIM = '#!/bin/sh\necho "pyenv: $(basename "$0"): command not found" >&2\nexit 127\n'


def test_the_python_probe_skips_broken_shims_quietly(tmp_path: Path) -> None:
    shims = tmp_path / "bin"
    shims.mkdir()
    for name in ("python3.13", "python3.12", "python3.11"):
        (shims / name).write_text(SHIM)
        (shims / name).chmod(0o755)
    (shims / "python3").symlink_to(sys.executable)
    done = subprocess.run(
        # -W: as if pyproject.toml had changed, so the venv recipe (which uses $(PYTHON)) runs
        ["make", "-n", "-W", "pyproject.toml", "venv", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{shims}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "command not found" not in done.stdout + done.stderr
    assert f"python3 -m venv {tmp_path / 'venv'}" in done.stdout
