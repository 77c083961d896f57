"""A closed-loop HTTP/1.1 keep-alive load generator on raw asyncio sockets.

Cheap enough per request that one core of it outruns one uvicorn worker, so the server is
the bottleneck being measured. Prints one JSON line: requests, seconds, rps, p50/p99 in µs.
Usage: python benchmarks/_loadgen.py HOST PORT PATH CONNECTIONS SECONDS [WARMUP_SECONDS]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def _connection(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    warm_until: float,
    latencies: list[float],
    warmup_count: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    try:
        while True:
            start = perf()
            if start >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if start >= warm_until:
                latencies.append(perf() - start)
            else:
                warmup_count[0] += 1
    finally:
        writer.close()


async def run(
    host: str, port: int, path: str, connections: int, seconds: float, warmup: float
) -> dict[str, float]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    warmup_count = [0]
    now = time.perf_counter()
    warm_until, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(
        *(
            _connection(host, port, request, stop_at, warm_until, latencies, warmup_count)
            for _ in range(connections)
        )
    )
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "all_requests": n + warmup_count[0],
        "seconds": seconds,
        "rps": n / seconds,
        "p50_us": latencies[n // 2] * 1e6 if n else float("nan"),
        "p99_us": latencies[min(n - 1, int(n * 0.99))] * 1e6 if n else float("nan"),
    }


def main() -> None:
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    connections, seconds = int(sys.argv[4]), float(sys.argv[5])
    warmup = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(host, port, path, connections, seconds, warmup))))


if __name__ == "__main__":
    main()
