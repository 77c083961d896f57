"""Fixtures of the loadtests tests: real servers on 127.0.0.1 and a bounded `locust` command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loadtests.locust_cli import LocustRunner
from tests.loadtests.servers import serve


@pytest.fixture
def http_server() -> Iterator[str]:
    """Base URL of a server answering 200 (500 under /fail)."""
    yield from serve(None, 0.0)


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """Base URL of a server that stalls every request for 1.5 s once, 1 s in."""
    yield from serve(1.0, 1.5)


@pytest.fixture
def run_locust(tmp_path: Path) -> LocustRunner:
    """Run a test locustfile headless; see LocustRunner."""
    return LocustRunner(tmp_path)
