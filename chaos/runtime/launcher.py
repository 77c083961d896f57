"""How `gameday up` runs a system: in the foreground, or as a detached supervisor process.

Foreground: `start_system` in this process; SIGINT/SIGTERM stop everything; the state file
is rewritten after every event and removed on the way out.
Detached: the same foreground command in a new session (output in <run dir>/supervisor.log);
this process waits until the state file says `running`, prints the table and returns.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from chaos.errors import RuntimeFailure
from chaos.runtime.preparation import default_run_dir
from chaos.runtime.process import start_time, tail
from chaos.runtime.state import (
    leftovers,
    owned_by,
    read_state,
    stop_run,
    supervisor_alive,
    write_state,
)
from chaos.runtime.system import RunningSystem, start_system
from chaos.runtime.table import render
from chaos.system.model import SystemSpec
from chaos.system.topology import start_waves


@dataclass(frozen=True, kw_only=True)
class Options:
    """What `gameday up` was asked for."""

    system: str
    state_file: Path
    replicas: dict[str, int] = field(default_factory=dict)
    prometheus: bool = False
    run_dir: Path | None = None
    ready_timeout: float = 60.0


def check_not_running(state_file: Path) -> None:
    """RuntimeFailure when the state file names a live run; a dead, empty one is cleared."""
    state = read_state(state_file)
    if state is None:
        return
    if supervisor_alive(state):
        raise RuntimeFailure(
            f"{state.get('system')} already runs here (supervisor pid "
            f"{state['supervisor']['pid']}, run dir {state.get('run_dir')}); "
            "run `gameday down` first, or `gameday status` to see it"
        )
    if leftovers(state):
        raise RuntimeFailure(
            f"the supervisor of the last run is gone but processes {leftovers(state)} are "
            "left; run `gameday down` to stop them first"
        )
    state_file.unlink(missing_ok=True)


def foreground(spec: SystemSpec, options: Options) -> int:
    """Run until SIGINT/SIGTERM; 0 after a clean stop."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    check_not_running(options.state_file)
    run_dir = (options.run_dir or default_run_dir(spec.name)).resolve()
    me = {"pid": os.getpid(), "start_time": start_time(os.getpid())}
    lock = threading.Lock()
    box: list[RunningSystem] = []
    status = ["starting"]

    def save(_: object = None) -> None:
        with lock:
            body: dict[str, Any] = {"run_dir": str(run_dir), "system": spec.name}
            if box:
                body = box[0].snapshot()
            write_state(
                options.state_file,
                {"status": status[0], "supervisor": me, **body, "updated": time.time()},
            )

    def stop(signum: int, frame: FrameType | None) -> None:
        # Once: the clean-up that follows must not be interrupted by a second Ctrl-C.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        status[0] = "stopping"
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    save()
    try:
        with start_system(
            spec,
            run_dir=run_dir,
            replicas=options.replicas,
            prometheus=options.prometheus,
            ready_timeout=options.ready_timeout,
            on_start=box.append,
            on_event=save,
        ) as system:
            status[0] = "running"
            save()
            print(render(system.snapshot()), flush=True)
            print("gameday up: running; Ctrl-C or `gameday down` stops it", flush=True)
            forever = threading.Event()
            while not forever.wait(3600):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        if owned_by(options.state_file, os.getpid()):
            options.state_file.unlink(missing_ok=True)
    return 0


def detach(spec: SystemSpec, options: Options) -> int:
    """Start the supervisor in its own session, wait until it runs, print the table."""
    check_not_running(options.state_file)
    run_dir = (options.run_dir or default_run_dir(spec.name)).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "chaos.cli", "up", options.system, "--foreground",
        "--run-dir", str(run_dir), "--state-file", str(options.state_file),
        "--ready-timeout", str(options.ready_timeout),
    ]  # fmt: skip
    if options.replicas:
        command += ["--replicas", ",".join(f"{k}={v}" for k, v in options.replicas.items())]
    if options.prometheus:
        command.append("--prometheus")
    log_path = run_dir / "supervisor.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Every wave gets the ready timeout.
    limit = options.ready_timeout * (len(start_waves(spec)) + 1) + 30
    deadline = time.monotonic() + limit
    try:
        while True:
            state = read_state(options.state_file)
            mine = state is not None and state.get("supervisor", {}).get("pid") == process.pid
            if mine and state is not None and state.get("status") == "running":
                print(render(state))
                print(
                    f"gameday up: running (supervisor pid {process.pid}, log {log_path}); "
                    "`gameday status` shows it, `gameday down` stops it"
                )
                return 0
            code = process.poll()
            if code is not None:
                print(
                    f"gameday up: the system did not start (supervisor exited with code {code}); "
                    f"last lines of {log_path}:\n{tail(log_path, 40)}",
                    file=sys.stderr,
                )
                return 1
            if time.monotonic() > deadline:
                raise RuntimeFailure(
                    f"the system was not running after {limit:.0f}s; see {log_path}"
                )
            time.sleep(0.05)
    except BaseException:
        # Interrupted or timed out: stop the supervisor (it stops its children) and anything
        # of this run that outlives it.
        supervisor = {"pid": process.pid, "start_time": start_time(process.pid)}
        stop_run({"run_dir": str(run_dir), "supervisor": supervisor}, grace=10.0)
        options.state_file.unlink(missing_ok=True)
        raise
