"""Fixtures for the shop's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment a service gets from the runtime, minus the dependency URLs."""
    return {"GAMEDAY_DATA_DIR": str(tmp_path / "data"), "GAMEDAY_SERVICE": "test"}
