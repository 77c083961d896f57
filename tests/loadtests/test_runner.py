"""The runner API chaos/ uses to start a load process (command building and validation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.errors import LoadSpecInvalid
from loadtests.runner import LoadSpec, locust_command

LOCUSTFILE = Path(__file__).parent / "locustfiles" / "tiny.py"


def test_command_line(tmp_path: Path) -> None:
    spec = LoadSpec(
        locustfile=LOCUSTFILE,
        host="http://127.0.0.1:8000",
        run_dir=tmp_path,
        shape="spike",
        users=5,
        duration=30,
        slo=Path("slo.yaml"),
        processes=2,
        shape_options={"spike_at": "10s"},
        extra_args=("--stop-timeout", "2"),
    )
    assert locust_command(spec, python="py") == [
        "py", "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", "http://127.0.0.1:8000",
        "--gameday-run-dir", str(tmp_path),
        "--gameday-shape", "spike",
        "--gameday-users", "5",
        "--gameday-duration", "30s",
        "--gameday-slo", "slo.yaml",
        "--processes", "2",
        "--gameday-spike-at", "10s",
        "--stop-timeout", "2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"locustfile": Path("nope.py")}, r"locustfile nope\.py does not exist"),
        ({"host": "127.0.0.1:8000"}, r"must be a URL such as http://127\.0\.0\.1:8000"),
        ({"shape": "wave"}, r"unknown shape 'wave'"),
        ({"shape_options": {"spike_when": "1s"}}, r"unknown shape option 'spike_when'"),
        ({"processes": 0}, r"processes must be >= 1"),
    ],
)
def test_bad_specs_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    fields = {"locustfile": LOCUSTFILE, "host": "http://127.0.0.1:1", "run_dir": tmp_path}
    with pytest.raises(LoadSpecInvalid, match=message):
        LoadSpec(**{**fields, **changes})
