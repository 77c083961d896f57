"""The run's secret: new for every run, in the services' environment only, written nowhere else."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chaos.runtime import RunningSystem
from chaos.runtime.secret import SECRET_ENV, new_secret, read_secret


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def test_every_run_gets_a_new_secret_only_its_owner_can_read(tmp_path: Path):
    first, second = new_secret(tmp_path), new_secret(tmp_path)
    assert first != second and len(second) >= 32
    assert read_secret(tmp_path) == second
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert read_secret(tmp_path / "elsewhere") is None


@pytest.mark.slow
def test_services_get_the_secret_and_nothing_else_does(bench: RunningSystem):
    secret = read_secret(bench.run_dir)
    assert secret is not None
    rows = [row for row in bench.status() if row.pid is not None]
    assert {row.role for row in rows} == {"service", "infrastructure", "gameday"}
    for row in rows:
        given = environ(row.pid).get(SECRET_ENV)
        assert given == (secret if row.role == "service" else None), (row.service, row.role)
    # Never in what the run writes about itself (topology, events, logs).
    for path in bench.run_dir.rglob("*"):
        if path.is_file() and path.name != "secret" and path.stat().st_size < 10_000_000:
            assert secret not in path.read_text(errors="replace"), path
