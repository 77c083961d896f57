"""Instructions per request of the uvicorn worker, bare vs instrumented: a figure noise cannot move.

Throughput on a shared machine drifts by tens of percent between seconds
(instrumentation_overhead.py interleaves and repeats to cope). The number of instructions the
worker executes per request does not drift: this script runs each variant's uvicorn worker
under valgrind's callgrind, sends it requests one at a time on a keep-alive connection,
zeroes the counters after a warm-up and reads them after the measured requests. The
worker's threads are counted (the span hand-off included); the exporter process it starts
runs natively, as do the client and the loopback OTLP receiver.

Instructions are not time: the same instruction costs more when the working set no longer
fits the caches, so the throughput ratio can be below the instruction ratio (the gap is what
docs/performance.md calls "what is left"). The ratio shown is bare's instructions over the
variant's: the throughput the variant would keep if every instruction cost the same.

    .venv/bin/python benchmarks/instructions.py [--requests 1000] [--variants bare,gameday-10,...]
        [--keep DIR]   # keep the dumps: callgrind_annotate DIR/<variant>/callgrind.out.*

Needs valgrind (`apt-get install valgrind`); takes about a minute per variant.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._procs import end_process, stop_children_with_me  # noqa: E402
from benchmarks.instrumentation_overhead import (  # noqa: E402
    PROBE_PARENT,
    Setup,
    parse_variants,
    start_receiver,
    variant_env,
)
from chaos.net import free_port, wait_for_port  # noqa: E402

DEFAULT_VARIANTS = "bare,passthrough,metrics-only,gameday-0,gameday-10,gameday-100,gameday-100/none"
# The dump's "summary:" is what ran since the counters were zeroed. Its "totals:" (the sum of
# the cost lines) also carries cost from before the zeroing (with no request in between:
# summary 0.24 M, totals 10 M), so it is not read.
_SUMMARY = re.compile(rb"^summary:\s*(\d+)", re.MULTILINE)


def _requests(port: int, count: int, headers: dict[str, str] | None = None) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for _ in range(count):
            connection.request("GET", "/hello/world", headers=headers or {})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET /hello/world answered {response.status}")
    finally:
        connection.close()


def _instructions(out_dir: Path, pid: int) -> int:
    """Instructions in the first dump callgrind_control asked the worker to write."""
    dump = out_dir / f"callgrind.out.{pid}.1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _SUMMARY.search(dump.read_bytes()) if dump.exists() else None
        if found is not None:
            return int(found.group(1))
        time.sleep(0.5)
    raise RuntimeError(f"callgrind wrote no dump {dump} in 60 s")


def measure(spec: str, setup: Setup, requests: int, warmup: int, keep: Path | None) -> float:
    """Instructions the worker of `spec` executes per request, after `warmup` requests.

    With `keep`, the callgrind dumps stay in keep/<spec> for callgrind_annotate."""
    env, _ = variant_env(spec, setup)
    port = free_port()
    if keep is not None:
        out_dir = keep / spec.replace("/", "-")
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        out_dir = Path(tempfile.mkdtemp(dir=setup.scratch))
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.out.%p",
         sys.executable, "-m", "uvicorn", "benchmarks.hello_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(out_dir / "valgrind.log").open("wb"),
    )  # fmt: skip
    try:
        try:
            wait_for_port("127.0.0.1", port, timeout=180)
        except TimeoutError:
            log = (out_dir / "valgrind.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{spec}: the worker did not start under valgrind:\n{log}") from None
        _requests(port, 1, {"traceparent": PROBE_PARENT})  # starts the exporter process
        _requests(port, warmup)
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True,
                       capture_output=True)  # fmt: skip
        _requests(port, requests)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True,
                       capture_output=True)  # fmt: skip
        return _instructions(out_dir, server.pid) / requests
    finally:
        end_process(server, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each variant's callgrind dump in KEEP/<variant> (for callgrind_annotate)",
    )
    args = parser.parse_args()
    if args.requests < 1 or args.warmup < 0:
        parser.error(
            f"--requests {args.requests} --warmup {args.warmup}: "
            "measure at least 1 request after 0 or more warm-up requests"
        )
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        parser.error("needs valgrind and callgrind_control: apt-get install valgrind")
    variants = parse_variants(parser, args.variants)
    scratch = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    stop_children_with_me(scratch)
    receiver_port = free_port()
    receiver = start_receiver(receiver_port, [])
    setup = Setup(receiver_port, free_port(), scratch, 0.0, 1)
    per_request: dict[str, float] = {}
    try:
        wait_for_port("127.0.0.1", receiver_port, timeout=30)
        for v in variants:
            per_request[v] = measure(v, setup, args.requests, args.warmup, args.keep)
            print(f"{v}: {per_request[v] / 1000:.0f} k instructions/request", flush=True)
    finally:
        end_process(receiver)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n{args.requests} requests after {args.warmup} warm-up, one keep-alive connection")
    print(f"{'variant':24s} {'k instr/req':>11s} {'added k':>8s} {'bare/variant':>12s}")
    bare = per_request["bare"]
    for v in variants:
        print(
            f"{v:24s} {per_request[v] / 1000:11.0f} {(per_request[v] - bare) / 1000:8.0f} "
            f"{bare / per_request[v]:12.2f}"
        )


if __name__ == "__main__":
    main()
