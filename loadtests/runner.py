"""Starting the load as its own process, for chaos/ and scripts (no Locust import here).

    spec = LoadSpec(locustfile=Path("loadtests/locustfile.py"), host="http://127.0.0.1:8000",
                    run_dir=run_dir, shape="steady", users=20, duration=120,
                    slo=Path("slo.yaml"))
    with LoadProcess.start(spec) as load:
        ...                              # faults, while samples land in run_dir/samples.jsonl
        load.samples()                   # read what has been written so far (SampleSet)
        code = load.wait(timeout=180)    # 0, 99 on an SLO breach, 2 on bad options

Locust patches the interpreter with gevent on import, so the load always runs in a child
process: `python -m locust -f <locustfile> --headless ...` with the gameday options, its
output in <run dir>/locust.log. `stop()` sends SIGINT (Ctrl-C) to the master, on which
Locust stops the users, collects the workers' last samples, writes them and judges the SLO.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from loadtests.errors import LoadSpecInvalid
from loadtests.shapes import SHAPES, ShapeParams
from loadtests.windows import SampleSet, read_run

LOG_FILE = "locust.log"
_SHAPE_OPTIONS = {f.replace("_", "-") for f in ShapeParams.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class LoadSpec:
    """What load to run against which host, and where its results go."""

    locustfile: Path
    host: str
    run_dir: Path
    shape: str = "steady"
    users: int | None = None
    spawn_rate: float | None = None
    duration: float | None = None
    slo: Path | None = None
    processes: int | None = None
    shape_options: Mapping[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not Path(self.locustfile).is_file():
            raise LoadSpecInvalid(f"locustfile {self.locustfile} does not exist; pass its path")
        if not self.host.startswith(("http://", "https://")):
            raise LoadSpecInvalid(f"host {self.host!r} must be a URL such as http://127.0.0.1:8000")
        if self.shape not in SHAPES:
            raise LoadSpecInvalid(
                f"unknown shape {self.shape!r}; choose one of {', '.join(SHAPES)}"
            )
        for name in self.shape_options:
            if name.replace("_", "-") not in _SHAPE_OPTIONS:
                raise LoadSpecInvalid(
                    f"unknown shape option {name!r}; known: {', '.join(sorted(_SHAPE_OPTIONS))}"
                )
        if self.processes is not None and self.processes < 1:
            raise LoadSpecInvalid(f"processes must be >= 1, got {self.processes}")


def locust_command(spec: LoadSpec, *, python: str = sys.executable) -> list[str]:
    """The `locust` command line that runs `spec` headless."""
    command = [
        python, "-m", "locust", "-f", str(spec.locustfile), "--headless",
        "--host", spec.host,
        "--gameday-run-dir", str(spec.run_dir),
        "--gameday-shape", spec.shape,
    ]  # fmt: skip
    if spec.users is not None:
        command += ["--gameday-users", str(spec.users)]
    if spec.spawn_rate is not None:
        command += ["--gameday-spawn-rate", str(spec.spawn_rate)]
    if spec.duration is not None:
        command += ["--gameday-duration", f"{spec.duration:g}s"]
    if spec.slo is not None:
        command += ["--gameday-slo", str(spec.slo)]
    if spec.processes is not None and spec.processes > 1:
        command += ["--processes", str(spec.processes)]
    for name, value in spec.shape_options.items():
        command += [f"--gameday-{name.replace('_', '-')}", str(value)]
    return command + list(spec.extra_args)


class LoadProcess:
    """A running load test: a `locust` child process in its own process group."""

    def __init__(self, spec: LoadSpec, process: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self.process = process

    @classmethod
    def start(cls, spec: LoadSpec, *, cwd: Path | None = None) -> LoadProcess:
        """Start `spec`; Locust's output goes to <run dir>/locust.log."""
        spec.run_dir.mkdir(parents=True, exist_ok=True)
        with (spec.run_dir / LOG_FILE).open("ab") as log:
            process = subprocess.Popen(
                locust_command(spec),
                cwd=cwd,
                env={**os.environ, **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stop() can kill --processes workers
            )
        return cls(spec, process)

    @property
    def pid(self) -> int:
        """The locust master's process id (also its process group id)."""
        return self.process.pid

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; raise subprocess.TimeoutExpired after `timeout` seconds."""
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int:
        """Ask Locust to stop as Ctrl-C does (samples and verdict still written), then kill.

        SIGINT goes to the master only: it tells its workers to quit and collects their last
        samples. After `timeout` seconds the whole process group is killed.
        """
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.kill(self.process.pid, signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()

    def samples(self) -> SampleSet:
        """What the load has written to its run directory so far."""
        return read_run(self.spec.run_dir)

    def __enter__(self) -> LoadProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
