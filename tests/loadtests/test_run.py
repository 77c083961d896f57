"""`python -m loadtests.run`: its argument checks (the command itself is test_runner's)."""

from __future__ import annotations

import pytest

from loadtests.run import main
from tests.loadtests.locust_cli import LOCUSTFILES


def test_a_bad_set_or_spec_exits_2_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    tiny = str(LOCUSTFILES / "tiny.py")
    assert main(["-f", tiny, "--host", "http://127.0.0.1:1", "--set", "spike_at"]) == 2
    assert "write NAME=VALUE, e.g. spike_at=20s" in capsys.readouterr().err
    assert main(["-f", tiny, "--host", "127.0.0.1:1"]) == 2
    assert "must be a URL such as http://127.0.0.1:8000" in capsys.readouterr().err
    assert main(["-f", tiny, "--host", "http://127.0.0.1:1", "--set", "spike_when=1s"]) == 2
    assert "unknown shape option 'spike_when'" in capsys.readouterr().err
