"""Starting the embedded server from Python: in a background thread, or as a subprocess.

    with serve_in_thread() as server:            # its own event loop, a free loopback port
        client = ToxiproxyClient(server.url)

    with spawn_subprocess() as proc:             # `python -m chaos.cli proxy --port 0`
        client = ToxiproxyClient(proc.url)       # SIGTERM and wait on exit

Both return once the API accepts requests, and clean up even when the body raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeVar, Unpack

from chaos.errors import RuntimeFailure
from chaos.proxy.server import ProxyServer, ServerOptions

T = TypeVar("T")

READY_LINE = re.compile(rb"gameday proxy listening on (\S+):(\d+)")


def new_event_loop(use_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed (and wanted), else asyncio's default."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


@dataclass(frozen=True)
class RunningServer:
    """A server running on its own loop in a background thread."""

    server: ProxyServer
    loop: asyncio.AbstractEventLoop

    @property
    def host(self) -> str:
        """The API host."""
        return self.server.host

    @property
    def port(self) -> int:
        """The API port."""
        return self.server.port

    @property
    def url(self) -> str:
        """The API base URL."""
        return self.server.url

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn()` on the server's loop (thread-safe) and return its result."""
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result(timeout)


@contextlib.contextmanager
def serve_in_thread(
    *, use_uvloop: bool = True, ready_timeout: float = 10.0, **options: Unpack[ServerOptions]
) -> Iterator[RunningServer]:
    """Run a ProxyServer (options as its keywords; port 0 by default) in a daemon thread."""
    options.setdefault("port", 0)
    loop = new_event_loop(use_uvloop)
    server_box: list[ProxyServer] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        server = ProxyServer(**options)
        try:
            await server.start()
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            return
        server_box.append(server)
        ready.set()
        await server.serve_forever()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), name="gameday-proxy", daemon=True
    )
    thread.start()
    if not ready.wait(ready_timeout):
        raise RuntimeFailure(f"the embedded proxy did not start within {ready_timeout:.0f}s")
    if failure:
        thread.join(ready_timeout)
        loop.close()
        raise failure[0]
    running = RunningServer(server_box[0], loop)
    try:
        yield running
    finally:
        with contextlib.suppress(RuntimeError):  # loop already gone
            asyncio.run_coroutine_threadsafe(running.server.stop(), loop).result(ready_timeout)
        thread.join(ready_timeout)
        if not thread.is_alive():
            _cancel_leftovers(loop)
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


@dataclass
class ProxyProcess:
    """A `gameday proxy` subprocess that announced readiness."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The API base URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if it hangs; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def _read_ready_line(
    stream: IO[bytes], process: subprocess.Popen[bytes], timeout: float
) -> re.Match[bytes]:
    deadline = time.monotonic() + timeout
    buffered = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeFailure(f"gameday proxy printed no ready line within {timeout:.0f}s")
            if selector.select(left):
                chunk = os.read(stream.fileno(), 4096)
                if not chunk:
                    code = process.wait(timeout=5)
                    raise RuntimeFailure(
                        f"gameday proxy exited with code {code} before it was ready"
                    )
                buffered += chunk
                match = READY_LINE.search(buffered)
                if match:
                    return match


@contextlib.contextmanager
def spawn_subprocess(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    args: Sequence[str] = (),
    ready_timeout: float = 15.0,
    env: dict[str, str] | None = None,
    stderr: int | IO[Any] | None = None,
) -> Iterator[ProxyProcess]:
    """Run `python -m chaos.cli proxy --host H --port P ARGS...` until the block ends."""
    command = [
        sys.executable,
        "-m",
        "chaos.cli",
        "proxy",
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, env=env, start_new_session=True
    )
    assert process.stdout is not None
    try:
        match = _read_ready_line(process.stdout, process, ready_timeout)
    except BaseException:
        process.kill()
        process.wait()
        process.stdout.close()
        raise
    running = ProxyProcess(match.group(1).decode(), int(match.group(2)), process)
    try:
        yield running
    finally:
        running.stop()
        if process.stderr is not None:
            process.stderr.close()


def _raise_fd_limit() -> None:
    # Every proxied connection holds two sockets (and a pipe while splicing); Go raises its
    # soft limit to the hard one at start, and so do we when running as a program.
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def run_foreground(
    *, config: str | None = None, use_uvloop: bool = True, **options: Unpack[ServerOptions]
) -> int:
    """Serve until SIGTERM/SIGINT (the `gameday proxy` command); 0 after a clean stop.

    Prints `gameday proxy listening on HOST:PORT` on stdout once the API is bound and the
    `config` proxies exist; raises GamedayError (ConfigInvalid, ServerStartFailed) otherwise.
    """
    import logging

    from chaos.proxy.config import load_config_file

    level_name = os.environ.get("LOG_LEVEL", "INFO").upper()
    level = logging.getLevelName(level_name)
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not isinstance(level, int):
        logging.getLogger("chaos.proxy").warning(
            "LOG_LEVEL=%s is not a level (DEBUG, INFO, WARNING, ERROR); using INFO", level_name
        )
    if config:
        options["proxies"] = load_config_file(config)
    _raise_fd_limit()
    server = ProxyServer(**options)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await server.start()
        stopping: list[asyncio.Task[None]] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                signum, lambda: stopping.append(loop.create_task(server.stop()))
            )
        host_text = f"[{server.host}]" if ":" in server.host else server.host
        print(f"gameday proxy listening on {host_text}:{server.port}", flush=True)
        await server.serve_forever()

    loop = new_event_loop(use_uvloop)
    try:
        loop.run_until_complete(main())
        _cancel_leftovers(loop)
    finally:
        loop.close()
    return 0
