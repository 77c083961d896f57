"""Fixtures for the shop's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sample_system.common.auth import SECRET_ENV
from tests.sample_system.servers import SECRET, SECRET_SETTING


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment a service gets from the runtime, minus the dependency URLs."""
    return {"GAMEDAY_DATA_DIR": str(tmp_path / "data"), "GAMEDAY_SERVICE": "test", **SECRET_SETTING}


@pytest.fixture(autouse=True, scope="session")
def run_secret() -> Iterator[str]:
    """The run's secret in this process's environment, as the runtime gives it to the audit.

    Session-wide, so that fixtures of any scope that audit find it. Services started in
    threads get it from their own settings (`env`, `running_shop`).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        yield SECRET
