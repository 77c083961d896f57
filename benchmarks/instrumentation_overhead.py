"""Throughput and CPU per request of a hello-world FastAPI service: bare vs instrumented.

One uvicorn worker pinned to core 0; on core 1 a raw-socket keep-alive load generator, a
loopback OTLP/HTTP receiver (a real HTTP server that decodes, counts and discards every
export, benchmarks/_otlp_receiver.py) and, when gameday exports from its exporter process,
that process (it plays the part of a Collector sidecar: its CPU is counted, not hidden).
Every variant's server is started once and stays up for the whole run (after a warm-up
slice); the load then visits them in short slices, each round in a shuffled order, with a
pause between slices for the previous variant's last batch of spans to be exported. On a
shared machine the speed drifts over seconds; short interleaved slices let every variant see
the same drift. The figures are medians (ratios: medians of per-round ratios to bare).

    .venv/bin/python benchmarks/instrumentation_overhead.py [--rounds 9] [--seconds 2]
        [--variants bare,naive,gameday-100,gameday-10,...]

A variant is BASE[/EXPORT]. BASE:
  bare           no instrumentation
  naive          FastAPIInstrumentor + prometheus-fastapi-instrumentator, defaults, SDK
                 provider sampling 100 % with a BatchSpanProcessor (as their docs show)
  metrics-only   gameday with tracing off (OTEL_SDK_DISABLED=true): RED metrics and health
  passthrough    bare behind a pure ASGI middleware that records nothing (the layer alone)
  metrics-unrecorded  metrics-only with RedMiddleware's recording removed: the in-flight
                 gauge and _observe (route template, label key, histogram); passthrough
                 and this one take the metrics layer's cost apart
  gameday-100    instrument(app), sampling 100 %
  gameday-10     instrument(app), parentbased_traceidratio 0.1
  gameday-0      instrument(app), sampling off (the sampling gate alone)
EXPORT (traced variants; default otlp):
  otlp           OTLP/HTTP protobuf to the loopback receiver
  file           the OTLP JSON-lines file exporter, into a temporary directory
  dead           OTLP/HTTP to a port where nothing listens (the telemetry backend is down)
  in-process     gameday only: OTLP/HTTP from a BatchSpanProcessor in the worker itself
                 (GAMEDAY_EXPORTER_PROCESS=false), to show what the exporter process saves
  none           spans are created and sampled, never exported

Ratios: thru/bare is the median of per-round throughput ratios; best/best divides each
variant's best round by bare's best (other load only ever slows a round down, so the best
rounds are the least disturbed); bare CPU/CPU compares CPU per request, worker + exporter.
Columns: server and exporter-process CPU per request (from /proc; exporter CPU is 0 when
export runs inside the worker), spans the receiver decoded per request during the load (for
file export: spans in the files after shutdown, per request), resident memory of
worker + exporter at the end of the load. The last lines compare the collector-down
variant with the live one (latency and memory), when both ran.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._procs import (  # noqa: E402
    RUN_MARKER,
    children,
    cpu_seconds,
    end_process,
    memory_kib,
    pin,
    pin_pid,
    stop_children_with_me,
)
from chaos.net import free_port, wait_for_port  # noqa: E402

SERVER_CORE, LOAD_CORE = 0, 1
PROBE_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

BASES: dict[str, dict[str, str]] = {
    "bare": {"BENCH_VARIANT": "bare"},
    "naive": {"BENCH_VARIANT": "naive"},
    "metrics-only": {"BENCH_VARIANT": "gameday", "OTEL_SDK_DISABLED": "true"},
    "passthrough": {"BENCH_VARIANT": "passthrough"},
    "metrics-unrecorded": {
        "BENCH_VARIANT": "gameday",
        "OTEL_SDK_DISABLED": "true",
        "BENCH_UNRECORDED": "1",
    },
    "gameday-100": {"BENCH_VARIANT": "gameday", "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    "gameday-10": {
        "BENCH_VARIANT": "gameday",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    },
    "gameday-0": {"BENCH_VARIANT": "gameday", "OTEL_TRACES_SAMPLER": "parentbased_always_off"},
}
UNTRACED = {"bare", "metrics-only", "passthrough", "metrics-unrecorded"}
EXPORTS = ("otlp", "file", "dead", "in-process", "none")
DEFAULT_VARIANTS = (
    "bare,naive,metrics-only,gameday-0,gameday-10,gameday-100,"
    "naive/file,gameday-10/file,gameday-100/file,gameday-100/in-process,gameday-100/dead"
)


@dataclass
class Setup:
    """What every measurement shares: the receiver and the run's temporary directory."""

    receiver_port: int
    dead_port: int
    scratch: Path
    seconds: float
    connections: int


@dataclass
class Result:
    rps: float
    p50_us: float
    p99_us: float
    server_cpu_us: float
    exporter_cpu_us: float
    spans_per_request: float
    rss_mib: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_us(self) -> float:
        return self.server_cpu_us + self.exporter_cpu_us


def parse_variant(spec: str) -> tuple[str, str]:
    """`gameday-100/file` -> ("gameday-100", "file"); the export defaults to otlp."""
    base, _, export = spec.partition("/")
    if base not in BASES:
        raise ValueError(f"unknown variant base {base!r}; choose from {', '.join(BASES)}")
    if base in UNTRACED:
        return base, "none"
    export = export or "otlp"
    if export not in EXPORTS or (export == "in-process" and base == "naive"):
        raise ValueError(f"unknown export {export!r} in {spec!r}; choose from {EXPORTS}")
    return base, export


def parse_variants(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """The comma-separated variants of `text`, bare first; a bad one ends the run via `parser`."""
    variants = [v.strip() for v in text.split(",") if v.strip()]
    try:
        for v in variants:
            parse_variant(v)
    except ValueError as exc:
        parser.error(str(exc))
    if "bare" not in variants:
        variants.insert(0, "bare")
    return variants


def start_receiver(port: int, prefix: list[str]) -> subprocess.Popen[bytes]:
    """The loopback OTLP/HTTP receiver on `port`, run with `prefix` (e.g. a `taskset`)."""
    return subprocess.Popen(
        [*prefix, sys.executable, str(ROOT / "benchmarks" / "_otlp_receiver.py"), str(port)],
        cwd=ROOT,
    )


def variant_env(spec: str, setup: Setup) -> tuple[dict[str, str], Path | None]:
    """The server's environment, and the directory its JSON-lines files go to (if any)."""
    base, export = parse_variant(spec)
    directory = None
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "GAMEDAY_", "BENCH_", "PROMETHEUS_"))
    }
    env.update(BASES[base], PYTHONPATH=str(ROOT))
    if RUN_MARKER in os.environ:  # stop_children_with_me: stripped above with GAMEDAY_*
        env[RUN_MARKER] = os.environ[RUN_MARKER]
    if export in ("otlp", "in-process"):
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{setup.receiver_port}"
    elif export == "dead":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{setup.dead_port}"
    elif export == "file":
        directory = Path(tempfile.mkdtemp(dir=setup.scratch))
        env["GAMEDAY_TRACES_DIR" if base != "naive" else "BENCH_TRACES_DIR"] = str(directory)
    if export == "in-process":
        env["GAMEDAY_EXPORTER_PROCESS"] = "false"
    return env, directory


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().read()
    finally:
        connection.close()


def _received_spans(setup: Setup) -> int:
    return int(json.loads(_get(setup.receiver_port, "/stats"))["spans"])


def _spans_in_files(directory: Path) -> int:
    """Spans written as OTLP JSON lines in `directory`."""
    count = 0
    for path in directory.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            for resource in json.loads(line).get("resourceSpans", []):
                count += sum(len(scope.get("spans", [])) for scope in resource["scopeSpans"])
    return count


def _exporters(server_pid: int, expect: bool) -> list[int]:
    """The worker's exporter process(es), moved to the load core like a sidecar container."""
    deadline = time.monotonic() + (10 if expect else 0)
    while True:
        found = children(server_pid)
        if found or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for pid in found:
        pin_pid(pid, LOAD_CORE)
    # Its start-up (imports, the probe's span) is not the cost of the requests measured next.
    deadline, last = time.monotonic() + 10, -1.0
    while time.monotonic() < deadline:
        used = sum(cpu_seconds(pid) for pid in found)
        if used == last:
            break
        last = used
        time.sleep(0.3)
    return found


@dataclass
class Served:
    """One variant's server, up for the whole run, and what it has been sent."""

    spec: str
    server: subprocess.Popen[bytes]
    port: int
    exporters: list[int]
    traces: Path | None
    requests: int = 1  # the probe


def start(spec: str, setup: Setup) -> Served:
    """Start the app for one variant and its exporter process; warm both up."""
    base, export = parse_variant(spec)
    port = free_port()
    env, traces = variant_env(spec, setup)
    server = subprocess.Popen(
        [*pin(SERVER_CORE), sys.executable, "-m", "uvicorn", "benchmarks.hello_app:app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )  # fmt: skip
    served = Served(spec, server, port, [], traces)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        # A sampled parent makes even the 10 % variant trace this one: its span starts the
        # exporter process, which then plays its part in every slice.
        _get(port, "/hello/probe", {"traceparent": PROBE_PARENT})
        sidecar = base.startswith("gameday") and export in ("otlp", "file", "dead")
        served.exporters = _exporters(server.pid, expect=sidecar and base != "gameday-0")
    except BaseException:
        stop(served)
        raise
    return served


def measure(served: Served, setup: Setup, seconds: float, warmup: float) -> Result:
    """Load one running variant for `seconds` (after `warmup`); its figures for that slice."""
    server_before = cpu_seconds(served.server.pid)
    exporter_before = sum(cpu_seconds(pid) for pid in served.exporters)
    spans_before = _received_spans(setup)
    out = subprocess.run(
        [*pin(LOAD_CORE), sys.executable, str(ROOT / "benchmarks" / "_loadgen.py"),
         "127.0.0.1", str(served.port), "/hello/world", str(setup.connections),
         str(seconds), str(warmup)],
        check=True, capture_output=True, text=True, timeout=seconds + warmup + 60,
    )  # fmt: skip
    load = json.loads(out.stdout)
    requests = load["all_requests"]
    served.requests += requests
    server_cpu = cpu_seconds(served.server.pid) - server_before
    exporter_cpu = sum(cpu_seconds(pid) for pid in served.exporters) - exporter_before
    spans = _received_spans(setup) - spans_before
    rss = sum(memory_kib(pid)[0] for pid in [served.server.pid, *served.exporters]) / 1024
    return Result(
        rps=load["rps"],
        p50_us=load["p50_us"],
        p99_us=load["p99_us"],
        server_cpu_us=server_cpu / requests * 1e6,
        exporter_cpu_us=exporter_cpu / requests * 1e6,
        spans_per_request=spans / requests,
        rss_mib=rss,
    )


def stop(served: Served) -> None:
    end_process(served.server)


def file_spans_per_request(served: Served) -> float | None:
    """For file export, after `stop`: spans in the files per request the server was sent."""
    if served.traces is None:
        return None
    return _spans_in_files(served.traces) / served.requests


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(variants: list[str], rows: dict[str, list[Result]], bare: list[Result]) -> None:
    print(
        f"{'variant':24s} {'rps':>6s} {'p50 µs':>7s} {'p99 µs':>7s} {'CPU µs/req':>10s} "
        f"{'(worker':>7s} {'+ exporter)':>11s} {'spans/req':>9s} {'RSS MiB':>7s} "
        f"{'thru/bare':>9s} {'best/best':>9s} {'bare CPU/CPU':>12s}"
    )
    best_bare = max(b.rps for b in bare)
    for v in variants:
        rs = rows[v]
        ratio = _median([r.rps / b.rps for r, b in zip(rs, bare, strict=True)])
        cpu_ratio = _median([b.cpu_us / r.cpu_us for r, b in zip(rs, bare, strict=True)])
        print(
            f"{v:24s} {_median([r.rps for r in rs]):6.0f} {_median([r.p50_us for r in rs]):7.0f} "
            f"{_median([r.p99_us for r in rs]):7.0f} {_median([r.cpu_us for r in rs]):10.0f} "
            f"{_median([r.server_cpu_us for r in rs]):7.0f} "
            f"{_median([r.exporter_cpu_us for r in rs]):11.0f} "
            f"{_median([r.spans_per_request for r in rs]):9.2f} "
            f"{_median([r.rss_mib for r in rs]):7.0f} {ratio:9.2f} "
            f"{max(r.rps for r in rs) / best_bare:9.2f} {cpu_ratio:12.2f}"
        )
    spread = sorted(b.rps for b in bare)
    print(
        f"\nbare rps over the rounds: {spread[0]:.0f} .. {spread[-1]:.0f} (other load on the "
        "machine shows here; best/best compares each variant's least disturbed round)"
    )
    dead, live = "gameday-100/dead", "gameday-100"
    if dead in rows and live in rows:
        pairs = list(zip(rows[dead], rows[live], strict=True))
        print(
            f"\ncollector down vs up ({dead} / {live}, medians of per-round ratios): "
            f"p50 {_median([d.p50_us / u.p50_us for d, u in pairs]):.3f}, "
            f"p99 {_median([d.p99_us / u.p99_us for d, u in pairs]):.3f}, "
            f"throughput {_median([d.rps / u.rps for d, u in pairs]):.3f}, "
            f"RSS {_median([d.rss_mib for d, _ in pairs]):.0f} MiB vs "
            f"{_median([u.rss_mib for _, u in pairs]):.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--gap",
        type=float,
        default=1.2,
        help="pause between slices (above the export schedule delay, 1 s)",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    args = parser.parse_args()
    variants = parse_variants(parser, args.variants)
    scratch = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    stop_children_with_me(scratch)
    receiver_port = free_port()
    receiver = start_receiver(receiver_port, pin(LOAD_CORE))
    setup = Setup(receiver_port, free_port(), scratch, args.seconds, args.connections)
    rows: dict[str, list[Result]] = {v: [] for v in variants}
    running: dict[str, Served] = {}
    try:
        wait_for_port("127.0.0.1", receiver_port, timeout=30)
        for v in variants:
            running[v] = start(v, setup)
        for v in variants:  # warm-up slice: imports, caches, the first batches
            measure(running[v], setup, seconds=1.0, warmup=1.0)
        for round_no in range(1, args.rounds + 1):
            order = variants[:]
            random.shuffle(order)
            for v in order:
                time.sleep(args.gap)  # the previous variant's last batch is exported meanwhile
                rows[v].append(measure(running[v], setup, args.seconds, warmup=0.2))
            print(
                f"round {round_no}: " + "  ".join(f"{v}={rows[v][-1].rps:.0f}/s" for v in variants),
                flush=True,
            )
    finally:
        for served in running.values():
            stop(served)
        for v, served in running.items():
            in_files = file_spans_per_request(served)
            if in_files is None:
                continue
            for result in rows[v]:
                result.spans_per_request = in_files
        end_process(receiver)
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\n{args.rounds} rounds x {args.seconds:g}s (+0.2s warm-up) per variant, every server up "
        f"the whole run, {args.connections} "
        f"connections; worker on core {SERVER_CORE}; load, receiver, exporter on core {LOAD_CORE}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    report(variants, rows, rows["bare"])
    if args.json is not None:
        args.json.write_text(
            json.dumps({v: [vars(r) for r in rs] for v, rs in rows.items()}, indent=1)
        )


if __name__ == "__main__":
    main()
