"""What the embedded fault proxy costs, and how faithful its latency toxic is.

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/proxy_overhead.py [--quick] [--strict]

Every party runs in its own process (the proxy is `gameday proxy` as users run it):

1. throughput — HTTP/1.1 keep-alive requests over 16 connections to a server that is the
   bottleneck, direct vs through the proxy: once with a serialised 1 ms wait per request (the
   target), once with 0.5 ms of CPU per request (shown: on a 2-core box the proxy's CPU then
   competes with the server's);
2. added latency — one connection, sequential requests to a trivial server: p50/p99 of the
   round trip through the proxy minus direct, in µs;
3. bulk — one TCP stream of several GB, direct vs proxied, in MB/s;
4. latency fidelity — a 50 ms downstream latency toxic: how far the added delay is from 50 ms
   at p50 and p99; shown beside it, the same error for a server that sleeps 50 ms itself (no
   proxy), i.e. what the machine's wake-up latency does to any 50 ms pause.

Targets: throughput ratio ≥ 0.95, added p50 ≤ 100 µs, bulk ≥ 1000 MB/s, latency error ≤ 1 ms
(p50) and ≤ 3 ms (p99). Direct and proxied runs alternate, round by round, and the medians
are reported, so other load on the machine hits both alike. Each target prints PASS or MISS;
with --strict a miss makes the exit code 1 (the default exits 0, like the other benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.proxy import spawn_subprocess
from chaos.proxy.client import ToxiproxyClient

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
def in_process(target: Callable[..., None], *args: object) -> Iterator[int]:
    """Run a server function in a subprocess; yields the port it reports."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(sender, *args), daemon=True)
    process.start()
    try:
        yield receiver.recv()
    finally:
        process.kill()
        process.join()


def http_server(work_us: int, cpu: bool = False) -> contextlib.AbstractContextManager[int]:
    """A keep-alive HTTP server in a subprocess; yields its port."""
    return in_process(_serve_http, work_us, cpu)


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


def parallel_round_trips(port: int, count: int, connections: int = 4) -> list[float]:
    """`connections` clients doing sequential round trips at once (more samples per second)."""
    results: list[list[float]] = [[] for _ in range(connections)]
    threads = [
        threading.Thread(target=lambda i=i: results[i].extend(round_trips(port, count)))
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [sample for samples in results for sample in samples]


def _serve_sleeper(port_out: multiprocessing.connection.Connection, delay: float) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port_out.send(listener.getsockname()[1])

    def serve(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while conn.recv(4096):
                time.sleep(delay)
                conn.sendall(RESPONSE)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def sleeping_server(delay: float) -> contextlib.AbstractContextManager[int]:
    """A server that answers each request after sleeping `delay` (the reference for 50 ms)."""
    return in_process(_serve_sleeper, delay)


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


def interleaved(
    direct: Callable[[], float], proxied: Callable[[], float], rounds: int
) -> tuple[float, float, float]:
    """Alternate direct/proxied runs so load from other processes hits both alike.

    Returns the median direct figure, the median proxied figure and the median per-round ratio.
    """
    pairs = [(direct(), proxied()) for _ in range(rounds)]
    return (
        statistics.median(d for d, _p in pairs),
        statistics.median(p for _d, p in pairs),
        statistics.median(p / d for d, p in pairs),
    )


def measure(quick: bool) -> dict[str, float]:
    """Run every measurement against a `gameday proxy` subprocess."""
    seconds = 2.0 if quick else 3.0
    rounds = 2 if quick else 5
    trips = 2000 if quick else 5000
    total = (1 if quick else 2) << 30
    r: dict[str, float] = {}
    with (
        open(os.devnull, "wb") as devnull,
        spawn_subprocess(stderr=devnull) as proxy_process,
    ):
        client = ToxiproxyClient(proxy_process.url)

        for label, cpu in (("wait", False), ("cpu", True)):
            with http_server(work_us=1000 if not cpu else 500, cpu=cpu) as port:
                proxied = client.create_proxy(f"bound-{label}", f"127.0.0.1:{port}").listen_port
                r[f"{label}_direct_rps"], r[f"{label}_proxied_rps"], r[f"{label}_ratio"] = (
                    interleaved(
                        lambda port=port: throughput(port, 16, seconds),
                        lambda proxied=proxied: throughput(proxied, 16, seconds),
                        rounds,
                    )
                )

        with http_server(work_us=0) as port:
            proxied = client.create_proxy("fast", f"127.0.0.1:{port}").listen_port
            direct: list[float] = []
            through: list[float] = []
            for _ in range(rounds):
                direct += round_trips(port, trips)
                through += round_trips(proxied, trips)
            r["direct_p50_us"] = pct(direct, 0.5) * 1e6
            r["direct_p99_us"] = pct(direct, 0.99) * 1e6
            r["added_p50_us"] = (pct(through, 0.5) - pct(direct, 0.5)) * 1e6
            r["added_p99_us"] = (pct(through, 0.99) - pct(direct, 0.99)) * 1e6

            # The same 50 ms done by the server itself (sleep, then answer), no proxy: how
            # late any 50 ms pause comes back on this box (wake-ups after 50 ms of idling).
            client.add_toxic("fast", "latency", attributes={"latency": 50})
            added: list[float] = []
            reference: list[float] = []
            with sleeping_server(0.050) as sleeper:
                for _ in range(rounds):
                    added += [s - pct(through, 0.5) for s in parallel_round_trips(proxied, 60)]
                    reference += [s - pct(direct, 0.5) for s in parallel_round_trips(sleeper, 60)]
            r["latency_added_p50_ms"] = pct(added, 0.5) * 1e3
            r["latency_added_p99_ms"] = pct(added, 0.99) * 1e3
            r["latency_err_p50_ms"] = r["latency_added_p50_ms"] - 50.0
            r["latency_err_p99_ms"] = r["latency_added_p99_ms"] - 50.0
            r["reference_err_p50_ms"] = (pct(reference, 0.5) - 0.050) * 1e3
            r["reference_err_p99_ms"] = (pct(reference, 0.99) - 0.050) * 1e3

        with sink_server() as (sink_port, sink):
            proxied = client.create_proxy("bulk", f"127.0.0.1:{sink_port}").listen_port
            r["bulk_direct_MBps"], r["bulk_proxied_MBps"], r["bulk_ratio"] = interleaved(
                lambda: bulk(sink_port, total, sink), lambda: bulk(proxied, total, sink), rounds
            )
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
        (
            "  reference: server sleeps 50 ms",
            f"error p50 {r['reference_err_p50_ms']:+.3f} ms"
            f"  p99 {r['reference_err_p99_ms']:+.3f} ms  (no proxy: this box's own wake-up error)",
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
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    print(json.dumps({k: round(v, 4) for k, v in r.items()}))
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    met = report(measure(args.quick))
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
