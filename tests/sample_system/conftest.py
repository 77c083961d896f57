"""Fixtures for the shop's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_system.common.auth import SECRET_ENV
from tests.sample_system.servers import SECRET, SECRET_SETTING


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment a service gets from the runtime, minus the dependency URLs."""
    return {"GAMEDAY_DATA_DIR": str(tmp_path / "data"), "GAMEDAY_SERVICE": "test", **SECRET_SETTING}


@pytest.fixture(autouse=True)
def run_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The run's secret in this process's environment, as the runtime gives it to the audit.

    Services started in threads get it from their own settings (`env`, `running_shop`).
    """
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET
