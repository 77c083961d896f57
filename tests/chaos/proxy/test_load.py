"""Hundreds of concurrent connections through one proxy while toxics change: nothing lost, nothing
leaked (file descriptors of this process, tasks of the server's loop)."""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections.abc import Iterator

import pytest

from chaos.proxy import RunningServer, ServerStats
from tests.chaos.proxy.helpers import Api, eventually

CONNECTIONS = 220
MESSAGES = 12


class AsyncEcho:
    port = 0
    open = 0  # connections the echo server has not closed yet


@pytest.fixture
def async_echo() -> Iterator[AsyncEcho]:
    """An asyncio echo server in its own thread (one thread for hundreds of clients)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    echo = AsyncEcho()
    stop = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        echo.open += 1
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            echo.open -= 1

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        echo.port = server.sockets[0].getsockname()[1]
        ready.set()
        await stop.wait()
        server.close()
        await server.wait_closed()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield echo
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def client(port: int, seed: int) -> bool:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(MESSAGES):
            message = rng.randbytes(rng.randrange(1, 8192))
            writer.write(message)
            echoed = await reader.readexactly(len(message))
            if echoed != message:
                return False
        return True
    finally:
        writer.close()
        await writer.wait_closed()


async def run_clients(port: int) -> list[bool]:
    return await asyncio.gather(*(client(port, seed) for seed in range(CONNECTIONS)))


def change_toxics(api: Api, stop: threading.Event) -> int:
    changes = 0
    kinds = [
        ("latency", {"latency": 3, "jitter": 2}),
        ("slicer", {"average_size": 500, "size_variation": 100, "delay": 50}),
        ("bandwidth", {"rate": 100_000}),
        ("noop", {}),
    ]
    while not stop.is_set() or changes < 8:
        kind, attributes = kinds[changes % len(kinds)]
        stream = ("upstream", "downstream")[changes % 2]
        name = f"load{changes}"
        api.toxic("load", kind, name=name, stream=stream, attributes=attributes)
        if changes % 3 == 0:
            api.patch(f"/proxies/load/toxics/{name}", {"toxicity": 0.5})
        if changes >= 3:
            api.delete(f"/proxies/load/toxics/load{changes - 3}")
        changes += 1
    return changes


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_hundreds_of_connections_while_toxics_change_leak_nothing(
    server: RunningServer, api: Api, async_echo: AsyncEcho
) -> None:
    port = api.proxy("load", f"127.0.0.1:{async_echo.port}")
    assert asyncio.run(run_clients(port)) == [True] * CONNECTIONS  # warm-up: timerfd, pipe pool

    def stats() -> ServerStats:
        return server.call(server.server.stats)

    def quiet() -> bool:
        return stats().connections == 0 and async_echo.open == 0

    eventually(quiet, what="warm-up connections closed")
    baseline, fds = stats(), open_fds()

    stop = threading.Event()
    changes: list[int] = []
    changer = threading.Thread(target=lambda: changes.append(change_toxics(api, stop)))
    changer.start()
    try:
        results = asyncio.run(run_clients(port))
    finally:
        stop.set()
        changer.join(30)
    assert results == [True] * CONNECTIONS
    assert changes and changes[0] >= 8
    api.post("/reset")

    seen: list[object] = []

    def settled() -> bool:
        now = stats()
        expected_fds = fds + 2 * (now.idle_pipes - baseline.idle_pipes)
        seen[:] = [now, open_fds(), expected_fds]
        return (now.connections, now.links, now.tasks) == (0, 0, baseline.tasks) and seen[
            1
        ] == expected_fds

    try:
        eventually(settled, timeout=15, what="no leaked sockets, pipes or tasks")
    except AssertionError:
        tasks = server.call(lambda: [repr(t) for t in asyncio.all_tasks()])
        raise AssertionError(f"baseline {baseline}, {fds} fds; now {seen}; tasks {tasks}") from None
