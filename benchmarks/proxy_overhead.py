"""What the embedded fault proxy costs, and how faithful its latency toxic is.

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/proxy_overhead.py [--quick]

Every party runs in its own process (the proxy is `gameday proxy` as users run it):

1. throughput — HTTP/1.1 keep-alive requests over 16 connections to a server that is the
   bottleneck, direct vs through the proxy: once with a serialised 1 ms wait per request (the
   target), once with 0.5 ms of CPU per request (shown: on a 2-core box the proxy's CPU then
   competes with the server's);
2. added latency — one connection, sequential requests to a trivial server: p50/p99 of the
   round trip through the proxy minus direct, in µs;
3. bulk — one TCP stream of several GB, direct vs proxied, in MB/s;
4. latency fidelity — a 50 ms downstream latency toxic: how far the added delay is from 50 ms
   at p50 and p99.

Targets: throughput ratio ≥ 0.95, added p50 ≤ 100 µs, bulk ≥ 1000 MB/s, latency error ≤ 1 ms
(p50) and ≤ 3 ms (p99). Exit code 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.proxy import spawn_subprocess
from chaos.toxiproxy import ToxiproxyClient

REQUEST = b"GET /item HTTP/1.1\r\nHost: bench\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


# -- the HTTP server (its own process) --------------------------------------------------------


def _serve_http(port_out: multiprocessing.connection.Connection, work_us: int, cpu: bool) -> None:
    import uvloop

    class Handler(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            out = []
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                self.buffer = self.buffer[end + 4 :]
                if work_us and cpu:  # CPU work: competes with the proxy for the 2 cores
                    until = time.perf_counter() + work_us / 1e6
                    while time.perf_counter() < until:
                        pass
                elif work_us:  # a serialised wait (a lock, a slow disk): the server is the limit
                    time.sleep(work_us / 1e6)
                out.append(RESPONSE)
            if out:
                self.transport.write(b"".join(out))

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Handler, "127.0.0.1", 0)
        port_out.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    uvloop.run(main())


@contextmanager
def http_server(work_us: int, cpu: bool = False) -> Iterator[int]:
    """A keep-alive HTTP server in a subprocess; yields its port."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_serve_http, args=(sender, work_us, cpu), daemon=True)
    process.start()
    try:
        yield receiver.recv()
    finally:
        process.kill()
        process.join()


# -- clients -----------------------------------------------------------------------------------


def _recv_response(sock: socket.socket) -> None:
    got = 0
    while got < len(RESPONSE):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("server closed")
        got += len(chunk)


def _throughput_worker(
    port: int, connections: int, seconds: float, out: multiprocessing.connection.Connection
) -> None:
    import uvloop

    async def one(deadline: float, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < deadline:
            writer.write(REQUEST)
            await reader.readexactly(len(RESPONSE))
            counts[0] += 1
        writer.close()

    async def main() -> None:
        counts = [0]
        await asyncio.gather(
            *(one(time.monotonic() + 1.0, [0]) for _ in range(connections))
        )  # warm-up
        start = time.monotonic()
        await asyncio.gather(*(one(start + seconds, counts) for _ in range(connections)))
        out.send(counts[0] / (time.monotonic() - start))

    uvloop.run(main())


def throughput(port: int, connections: int, seconds: float) -> float:
    """Requests per second over `connections` keep-alive connections (client in a process)."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_throughput_worker, args=(port, connections, seconds, sender))
    process.start()
    rate: float = receiver.recv()
    process.join()
    return rate


def round_trips(port: int, count: int) -> list[float]:
    """Sequential request round trips on one connection, in seconds."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for i in range(count + count // 10):
            start = time.perf_counter()
            sock.sendall(REQUEST)
            _recv_response(sock)
            if i >= count // 10:  # the first tenth warms up
                samples.append(time.perf_counter() - start)
        return samples


def bulk(port: int, total: int, sink: Callable[[], int]) -> float:
    """MB/s of one stream of `total` bytes sent to `port` and counted by `sink`."""
    result: list[int] = []
    receiver = threading.Thread(target=lambda: result.append(sink()))
    receiver.start()
    block = memoryview(os.urandom(1 << 20))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(block)
            sent += len(block)
        sock.shutdown(socket.SHUT_WR)
        receiver.join()
        elapsed = time.perf_counter() - start
    assert result and result[0] == total, f"sink got {result} of {total} bytes"
    return total / elapsed / 1e6


@contextmanager
def sink_server() -> Iterator[tuple[int, Callable[[], int]]]:
    """A listening socket whose `accept_and_count()` drains one connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_and_count() -> int:
        conn, _ = listener.accept()
        buffer = bytearray(1 << 20)
        count = 0
        with conn:
            while chunk := conn.recv_into(buffer):
                count += chunk
        return count

    try:
        yield listener.getsockname()[1], accept_and_count
    finally:
        listener.close()


def pct(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the run -----------------------------------------------------------------------------------


def measure(quick: bool) -> dict[str, float]:
    """Run every measurement against a `gameday proxy` subprocess."""
    seconds = 3.0 if quick else 6.0
    rounds = 2000 if quick else 6000
    total = (1 if quick else 4) << 30
    r: dict[str, float] = {}
    with (
        open(os.devnull, "wb") as devnull,
        spawn_subprocess(stderr=devnull) as proxy_process,
    ):
        client = ToxiproxyClient(proxy_process.url)

        for label, cpu in (("wait", False), ("cpu", True)):
            with http_server(work_us=1000 if not cpu else 500, cpu=cpu) as port:
                proxied = client.create_proxy(f"bound-{label}", f"127.0.0.1:{port}").listen_port
                r[f"{label}_direct_rps"] = throughput(port, 16, seconds)
                r[f"{label}_proxied_rps"] = throughput(proxied, 16, seconds)
            r[f"{label}_ratio"] = r[f"{label}_proxied_rps"] / r[f"{label}_direct_rps"]

        with http_server(work_us=0) as port:
            proxied = client.create_proxy("fast", f"127.0.0.1:{port}").listen_port
            direct = round_trips(port, rounds)
            through = round_trips(proxied, rounds)
            r["direct_p50_us"] = pct(direct, 0.5) * 1e6
            r["direct_p99_us"] = pct(direct, 0.99) * 1e6
            r["added_p50_us"] = (pct(through, 0.5) - pct(direct, 0.5)) * 1e6
            r["added_p99_us"] = (pct(through, 0.99) - pct(direct, 0.99)) * 1e6

            client.add_toxic("fast", "latency", attributes={"latency": 50})
            base = pct(through, 0.5)
            added = [s - base for s in round_trips(proxied, 300 if quick else 600)]
            r["latency_added_p50_ms"] = pct(added, 0.5) * 1e3
            r["latency_added_p99_ms"] = pct(added, 0.99) * 1e3
            r["latency_err_p50_ms"] = r["latency_added_p50_ms"] - 50.0
            r["latency_err_p99_ms"] = r["latency_added_p99_ms"] - 50.0

        with sink_server() as (sink_port, sink):
            proxied = client.create_proxy("bulk", f"127.0.0.1:{sink_port}").listen_port
            r["bulk_direct_MBps"] = bulk(sink_port, total, sink)
            r["bulk_proxied_MBps"] = bulk(proxied, total, sink)
        r["bulk_ratio"] = r["bulk_proxied_MBps"] / r["bulk_direct_MBps"]
    return r


def report(r: dict[str, float]) -> bool:
    """Print the figures side by side and the verdict per target; True when all pass."""
    rows = [
        (
            "keep-alive, server-bound (1 ms wait)",
            f"direct {r['wait_direct_rps']:7.0f} req/s  proxied {r['wait_proxied_rps']:7.0f} req/s"
            f"  ratio {r['wait_ratio']:.3f}",
        ),
        (
            "keep-alive, server-bound (0.5 ms CPU)",
            f"direct {r['cpu_direct_rps']:7.0f} req/s  proxied {r['cpu_proxied_rps']:7.0f} req/s"
            f"  ratio {r['cpu_ratio']:.3f}",
        ),
        (
            "round trip, trivial server",
            f"direct p50 {r['direct_p50_us']:5.1f} µs p99 {r['direct_p99_us']:6.1f} µs"
            f"  added p50 {r['added_p50_us']:5.1f} µs p99 {r['added_p99_us']:6.1f} µs",
        ),
        (
            "bulk transfer, one stream",
            f"direct {r['bulk_direct_MBps']:6.0f} MB/s  proxied {r['bulk_proxied_MBps']:6.0f} MB/s"
            f"  ratio {r['bulk_ratio']:.3f}",
        ),
        (
            "latency toxic, 50 ms",
            f"added p50 {r['latency_added_p50_ms']:.3f} ms (error {r['latency_err_p50_ms']:+.3f})"
            f"  p99 {r['latency_added_p99_ms']:.3f} ms (error {r['latency_err_p99_ms']:+.3f})",
        ),
    ]
    for name, figures in rows:
        print(f"{name:40} {figures}")
    checks = {
        "throughput ratio >= 0.95 (server-bound)": r["wait_ratio"] >= 0.95,
        "added p50 <= 100 µs": r["added_p50_us"] <= 100,
        "bulk through the proxy >= 1000 MB/s": r["bulk_proxied_MBps"] >= 1000,
        "latency error p50 <= 1 ms": abs(r["latency_err_p50_ms"]) <= 1.0,
        "latency error p99 <= 3 ms": abs(r["latency_err_p99_ms"]) <= 3.0,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print(json.dumps({k: round(v, 4) for k, v in r.items()}))
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    args = parser.parse_args()
    return 0 if report(measure(args.quick)) else 1


if __name__ == "__main__":
    sys.exit(main())
