"""Throughput of a hello-world FastAPI service: bare vs instrumented, measured side by side.

One uvicorn worker pinned to core 0, a raw-socket keep-alive load generator pinned to core 1;
every variant runs once per round, in a shuffled order, for several rounds; the figures
printed last are medians of per-round ratios to bare (so machine drift cancels out): the
throughput ratio, and the ratio of the server's CPU time per request (read from /proc), which
other load on the machine disturbs less.

    .venv/bin/python benchmarks/instrumentation_overhead.py [--rounds 5] [--seconds 4]
        [--export none|file] [--variants bare,naive,gameday-100,gameday-10]

Variants:
  bare           no instrumentation
  naive          FastAPIInstrumentor + prometheus-fastapi-instrumentator, both with defaults,
                 SDK tracer provider sampling 100 %
  metrics-only   gameday with tracing off (OTEL_SDK_DISABLED=true): RED metrics and health
  gameday-100    instrument(app), sampling 100 %
  gameday-10     instrument(app), parentbased_traceidratio 0.1
  gameday-0      instrument(app), sampling off (the cost of the sampling gate alone)
--export file sends every traced variant's spans to the embedded OTLP JSON-lines file
exporter; with none (default) spans are created, sampled and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos.net import free_port, wait_for_port  # noqa: E402

VARIANTS: dict[str, dict[str, str]] = {
    "bare": {"BENCH_VARIANT": "bare"},
    "naive": {"BENCH_VARIANT": "naive"},
    "metrics-only": {"BENCH_VARIANT": "gameday", "OTEL_SDK_DISABLED": "true"},
    "gameday-100": {"BENCH_VARIANT": "gameday", "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    "gameday-10": {
        "BENCH_VARIANT": "gameday",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    },
    "gameday-0": {"BENCH_VARIANT": "gameday", "OTEL_TRACES_SAMPLER": "parentbased_always_off"},
}


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() != 1 else []


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(variant: str, seconds: float, connections: int, export: str) -> dict[str, float]:
    """Start the app for one variant, load it, stop it; the load generator's JSON result."""
    port = free_port()
    traces = tempfile.mkdtemp(prefix="bench-traces-")
    env = {**os.environ, **VARIANTS[variant], "PYTHONPATH": str(ROOT)}
    env["BENCH_TRACES_DIR"] = traces if export == "file" else ""
    server = subprocess.Popen(
        [
            *_pin(0),
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.hello_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        cpu_before = _cpu_seconds(server.pid)
        out = subprocess.run(
            [
                *_pin(1),
                sys.executable,
                str(ROOT / "benchmarks" / "_loadgen.py"),
                "127.0.0.1",
                str(port),
                "/hello/world",
                str(connections),
                str(seconds),
                "1",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        result: dict[str, float] = json.loads(out.stdout)
        result["cpu_us"] = (_cpu_seconds(server.pid) - cpu_before) / result["all_requests"] * 1e6
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(traces, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--export", choices=["none", "file"], default="none")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if "bare" not in variants:
        variants.insert(0, "bare")

    rows: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    ratios: dict[str, list[float]] = {v: [] for v in variants}
    cpu_ratios: dict[str, list[float]] = {v: [] for v in variants}
    for round_no in range(1, args.rounds + 1):
        order = variants[:]
        random.shuffle(order)
        results = {v: measure(v, args.seconds, args.connections, args.export) for v in order}
        for v in variants:
            rows[v].append(results[v])
            ratios[v].append(results[v]["rps"] / results["bare"]["rps"])
            cpu_ratios[v].append(results["bare"]["cpu_us"] / results[v]["cpu_us"])
        print(
            f"round {round_no}: " + "  ".join(f"{v}={results[v]['rps']:.0f}/s" for v in variants),
            flush=True,
        )

    print(
        f"\nexport={args.export}, {args.rounds} rounds x {args.seconds:.0f}s, "
        f"{args.connections} connections, server on core 0, load on core 1"
    )
    print(
        f"{'variant':14s} {'rps':>8s} {'p50 µs':>8s} {'p99 µs':>8s} {'CPU µs/req':>11s} "
        f"{'throughput/bare':>16s} {'bare CPU/CPU':>13s}"
    )
    for v in variants:

        def med(key: str, v: str = v) -> float:
            return statistics.median(r[key] for r in rows[v])

        print(
            f"{v:14s} {med('rps'):8.0f} {med('p50_us'):8.0f} {med('p99_us'):8.0f} "
            f"{med('cpu_us'):11.0f} {statistics.median(ratios[v]):16.2f} "
            f"{statistics.median(cpu_ratios[v]):13.2f}"
        )


if __name__ == "__main__":
    main()
