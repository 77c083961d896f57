"""A running test system (front -> backend x2, front -> nats) shared by a module's tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.runtime import Backoff, RunningSystem, start_system

SYSTEM = Path(__file__).resolve().parent / "system.yaml"
FAST = Backoff(initial=0.2, factor=2.0, cap=1.0, reset_after=30.0)


def get(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """(status, decoded JSON body) of a GET; 599 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except OSError as exc:
        return 599, str(exc)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """The test system, started once per module; tests leave it healthy."""
    run_dir = tmp_path_factory.mktemp("bench-run")
    with start_system(SYSTEM, run_dir=run_dir, backoff=FAST, ready_timeout=20) as system:
        yield system
