"""What the embedded fault proxy costs, and how faithful its latency toxic is.

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/proxy_overhead.py \
        [--quick] [--strict] [--against /path/to/toxiproxy-server]

Every party runs in its own process (the proxy is `gameday proxy` as users run it; with
`--against`, the given toxiproxy-server runs beside it and is measured the same way, in the
same rounds):

1. throughput — HTTP/1.1 keep-alive requests over 16 connections to a server that is the
   bottleneck, direct vs through the proxy: once with a serialised 1 ms wait per request (the
   target), once with 0.5 ms of CPU per request (shown: on a 2-core box the proxy's CPU then
   competes with the server's);
2. added latency — one connection, sequential requests to a trivial server: p50/p99 of the
   round trip through the proxy minus direct, in µs;
3. bulk — one TCP stream of several GB, direct vs proxied, in MB/s;
4. latency fidelity — a 50 ms downstream latency toxic, one connection, sequential requests:
   how far the added delay is from 50 ms at p50 and p99; shown beside it, the same error for a
   server that sleeps 50 ms itself (no proxy), i.e. what the machine's wake-up latency does to
   any 50 ms pause.

Targets for the embedded proxy: throughput ratio ≥ 0.95, added p50 ≤ 100 µs, bulk ≥ 1000 MB/s,
latency error ≤ 0.5 ms (p50) and ≤ 1 ms (p99). Direct and proxied runs alternate, round by
round, and the medians are reported, so other load on the machine hits all alike. Each target
prints PASS or MISS; with --strict a miss makes the exit code 1 (the default exits 0, like the
other benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._procs import stop_children_with_me
from chaos.net import free_port
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


# -- the proxies -------------------------------------------------------------------------------


@contextmanager
def embedded() -> Iterator[str]:
    """`gameday proxy` in a subprocess; yields its API URL."""
    with open(os.devnull, "wb") as devnull, spawn_subprocess(stderr=devnull) as process:
        yield process.url


@contextmanager
def external(path: str) -> Iterator[str]:
    """A toxiproxy-server binary, started with its own flags; yields its API URL."""
    port = free_port()
    process = subprocess.Popen(
        [path, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while not ToxiproxyClient(url, timeout=1).running():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{path} did not serve the Toxiproxy API on {url}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


# -- the run -----------------------------------------------------------------------------------


def interleaved(
    direct: Callable[[], float], proxied: dict[str, Callable[[], float]], rounds: int
) -> dict[str, float]:
    """Alternate direct and proxied runs, in a new order each round, so that load from other
    processes (and whatever favours the first or last of a round) hits all alike.

    Returns the median direct figure (`direct`), each proxy's median figure and the median of
    its per-round ratios to direct (`<name>_ratio`).
    """
    order = random.Random(1)
    parties = {"direct": direct, **proxied}
    runs: list[dict[str, float]] = []
    for _ in range(rounds):
        names = list(parties)
        order.shuffle(names)
        runs.append({name: parties[name]() for name in names})
    out = {"direct": statistics.median(r["direct"] for r in runs)}
    for name in proxied:
        out[name] = statistics.median(r[name] for r in runs)
        out[f"{name}_ratio"] = statistics.median(r[name] / r["direct"] for r in runs)
    return out


def measure(targets: dict[str, str], quick: bool) -> dict[str, float]:
    """Run every measurement against each Toxiproxy API in `targets` (name -> URL)."""
    seconds = 2.0 if quick else 3.0
    rounds = 2 if quick else 5
    trips = 2000 if quick else 5000
    fidelity = 150 if quick else 400  # 50 ms round trips per proxy, one connection
    total = (1 if quick else 2) << 30
    clients = {name: ToxiproxyClient(url) for name, url in targets.items()}
    r: dict[str, float] = {}

    for label, cpu in (("wait", False), ("cpu", True)):
        with http_server(work_us=1000 if not cpu else 500, cpu=cpu) as port:
            ports = {
                n: c.create_proxy(f"bound-{label}", f"127.0.0.1:{port}").listen_port
                for n, c in clients.items()
            }
            got = interleaved(
                lambda port=port: throughput(port, 16, seconds),
                {n: (lambda p=p: throughput(p, 16, seconds)) for n, p in ports.items()},
                rounds,
            )
            r.update({f"{label}_{k}_rps" if "ratio" not in k else f"{label}_{k}": v
                      for k, v in got.items()})  # fmt: skip

    with http_server(work_us=0) as port:
        ports = {
            n: c.create_proxy("fast", f"127.0.0.1:{port}").listen_port for n, c in clients.items()
        }
        direct: list[float] = []
        through: dict[str, list[float]] = {n: [] for n in clients}
        for _ in range(rounds):
            direct += round_trips(port, trips)
            for n, p in ports.items():
                through[n] += round_trips(p, trips)
        r["direct_p50_us"] = pct(direct, 0.5) * 1e6
        r["direct_p99_us"] = pct(direct, 0.99) * 1e6
        for n in clients:
            r[f"{n}_added_p50_us"] = (pct(through[n], 0.5) - pct(direct, 0.5)) * 1e6
            r[f"{n}_added_p99_us"] = (pct(through[n], 0.99) - pct(direct, 0.99)) * 1e6

        # The same 50 ms done by the server itself (sleep, then answer), no proxy: how late
        # any 50 ms pause comes back on this box (wake-ups after 50 ms of idling).
        for c in clients.values():
            c.add_toxic("fast", "latency", attributes={"latency": 50})
        added: dict[str, list[float]] = {n: [] for n in clients}
        reference: list[float] = []
        block = max(1, fidelity // rounds)
        order = random.Random(2)
        with sleeping_server(0.050) as sleeper:
            for _ in range(rounds):
                for n in order.sample([*ports, "reference"], len(ports) + 1):
                    if n == "reference":
                        reference += [s - pct(direct, 0.5) for s in round_trips(sleeper, block)]
                    else:
                        added[n] += [s - pct(through[n], 0.5) for s in round_trips(ports[n], block)]
        for n in clients:
            r[f"{n}_latency_err_p50_ms"] = pct(added[n], 0.5) * 1e3 - 50.0
            r[f"{n}_latency_err_p99_ms"] = pct(added[n], 0.99) * 1e3 - 50.0
        r["reference_err_p50_ms"] = (pct(reference, 0.5) - 0.050) * 1e3
        r["reference_err_p99_ms"] = (pct(reference, 0.99) - 0.050) * 1e3

    with sink_server() as (sink_port, sink):
        ports = {
            n: c.create_proxy("bulk", f"127.0.0.1:{sink_port}").listen_port
            for n, c in clients.items()
        }
        got = interleaved(
            lambda: bulk(sink_port, total, sink),
            {n: (lambda p=p: bulk(p, total, sink)) for n, p in ports.items()},
            rounds,
        )
        r.update({f"bulk_{k}_MBps" if "ratio" not in k else f"bulk_{k}": v
                  for k, v in got.items()})  # fmt: skip
    return r


def report(r: dict[str, float], names: list[str]) -> bool:
    """Print the figures side by side and the verdict per target; True when all pass."""
    print(f"{'':40} {'direct':>12} " + " ".join(f"{n:>22}" for n in names))
    rows = [
        ("keep-alive, server-bound (1 ms wait), req/s", "wait_direct_rps", "wait_{}_rps",
         "wait_{}_ratio"),
        ("keep-alive, server-bound (0.5 ms CPU), req/s", "cpu_direct_rps", "cpu_{}_rps",
         "cpu_{}_ratio"),
        ("bulk transfer, one stream, MB/s", "bulk_direct_MBps", "bulk_{}_MBps", "bulk_{}_ratio"),
    ]  # fmt: skip
    for title, direct, value, ratio in rows:
        cells = " ".join(
            f"{r[value.format(n)]:10.0f} ({r[ratio.format(n)]:5.3f}x)" + " " * 4 for n in names
        )
        print(f"{title:40} {r[direct]:12.0f} {cells}")
    cells = " ".join(
        f"{r[f'{n}_added_p50_us']:8.1f} / {r[f'{n}_added_p99_us']:8.1f}" + " " * 3 for n in names
    )
    print(f"{'round trip added, p50 / p99 µs':40} {'':12} {cells}")
    cells = " ".join(
        f"{r[f'{n}_latency_err_p50_ms']:+8.3f} / {r[f'{n}_latency_err_p99_ms']:+8.3f}" + " " * 3
        for n in names
    )
    print(f"{'50 ms latency toxic: error p50 / p99 ms':40} {'':12} {cells}")
    print(
        f"{'  reference: server sleeps 50 ms':40} error p50 {r['reference_err_p50_ms']:+.3f} ms"
        f"  p99 {r['reference_err_p99_ms']:+.3f} ms  (no proxy: this box's own wake-up error)"
    )
    if "toxiproxy" in names:
        print(
            "gameday vs toxiproxy: throughput (1 ms wait) "
            f"{r['wait_gameday_rps'] / r['wait_toxiproxy_rps']:.2f}x, (0.5 ms CPU) "
            f"{r['cpu_gameday_rps'] / r['cpu_toxiproxy_rps']:.2f}x, bulk "
            f"{r['bulk_gameday_MBps'] / r['bulk_toxiproxy_MBps']:.2f}x"
        )
    checks = {
        "throughput ratio >= 0.95 (server-bound)": r["wait_gameday_ratio"] >= 0.95,
        "added p50 <= 100 µs": r["gameday_added_p50_us"] <= 100,
        "bulk through the proxy >= 1000 MB/s": r["bulk_gameday_MBps"] >= 1000,
        "latency error p50 <= 0.5 ms": abs(r["gameday_latency_err_p50_ms"]) <= 0.5,
        "latency error p99 <= 1 ms": abs(r["gameday_latency_err_p99_ms"]) <= 1.0,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    print(json.dumps({k: round(v, 4) for k, v in r.items()}))
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--against",
        metavar="PATH",
        help="a toxiproxy-server binary to measure beside the embedded proxy",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    stop_children_with_me(scratch)  # its servers and proxies stop with it, even on SIGKILL
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        targets = {"gameday": stack.enter_context(embedded())}
        if args.against:
            targets["toxiproxy"] = stack.enter_context(external(args.against))
        met = report(measure(targets, args.quick), list(targets))
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
