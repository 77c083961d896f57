"""Real servers on loopback for tests: uvicorn in a thread or in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from chaos.net import LOOPBACK, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread of this process; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="off", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(LOOPBACK, port, timeout=15)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before listening")
        try:
            wait_for_port(LOOPBACK, port, timeout=0.2)
            return
        except TimeoutError:
            continue
    raise TimeoutError(f"server did not listen on port {port} within {timeout}s")


@contextmanager
def spawn_uvicorn(
    app_ref: str,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    stderr: Any = None,
    stdout: Any = None,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `uvicorn app_ref` in its own process group; yields (process, base URL)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app_ref, "--host", LOOPBACK, "--port", str(port), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=ROOT,
        stderr=stderr,
        stdout=stdout,
        start_new_session=True,
    )
    try:
        _wait_until_listening(process, port, timeout=30)
        yield process, f"http://{LOOPBACK}:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def gameday(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the `gameday` CLI as a user would (this checkout on PYTHONPATH), in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
