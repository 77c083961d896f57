"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil

import pytest

from chaos.net import free_port

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str, install_hint: str) -> str:
    """Path of `name`; fails under CI=true (the project installs it there), skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found on PATH; install it with: {install_hint}"
        if IN_CI:
            pytest.fail(message + " (CI must install it: see scripts/ensure-system-deps.sh)")
        pytest.skip(message)
    return path


@pytest.fixture
def port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()
