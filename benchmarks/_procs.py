"""The benchmarks' processes on Linux: CPU time, memory, children, cores, and their ending."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from chaos import watchdog

RUN_MARKER = "GAMEDAY_BENCHMARK_RUN"


def pin(core: int) -> list[str]:
    """A `taskset` prefix that runs a command on one core (empty where that is impossible)."""
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() != 1 else []


def pin_pid(pid: int, core: int) -> None:
    """Move a running process to one core (ignored where the machine has only one)."""
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {core})


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct child processes of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(resident now, peak resident) in KiB; zeros once the process is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def end_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Terminate `process`, and kill it if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_children_with_me(scratch: Path) -> None:
    """Whatever this benchmark starts from now on stops when it dies, even by SIGKILL, and
    its `scratch` directory goes.

    Every process it starts inherits RUN_MARKER in its environment (an environment built
    for a child must carry it over); the project's watchdog (chaos/watchdog.py) stops every
    process carrying this run's marker once this process is gone, however it ended.
    """
    token = f"{os.getpid()}-{time.time_ns()}"
    os.environ[RUN_MARKER] = token
    guard = watchdog.current()
    guard.watch_env(RUN_MARKER, token)
    guard.on_death(["rm", "-rf", str(scratch)], cwd=str(scratch.parent))
