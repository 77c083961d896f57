"""Time to detect and alert isolation, per fault, on the shop with the runtime's Prometheus.

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/alert_detection.py
    ... alert_detection.py sample_system/experiments/nats-down.yaml   # some experiments only

One system (sample_system/system.yaml as checked in, game-day profile, its `load:`), and for
the fault of each experiment file, in turn:

1. wait until no alert fires (the ticket alerts of the previous fault clear within minutes:
   their 6h window is 3 minutes in the game-day profile), then 5 quiet seconds more;
2. inject the experiment's fault with the code experiments use, and poll /api/v1/alerts every
   0.25 s: seconds from injection to the first alert firing is the *time to detect*;
3. keep the fault on `--watch` seconds more, listing every alert that starts firing (the SLO
   alerts come after the cause alerts); remove it and list those that start firing during
   the recovery, until all are quiet again.

Isolation (dashboards/detection.py): some alert names the faulted service, and every alert
either does, is on a service calling it (an upstream symptom), or is a journey alert for a
journey the experiment's hypothesis lets degrade. Alerts already firing when the fault was
injected do not count. Prints a markdown table and writes the details as JSON (`--json`).
Exit 1 when a fault is not detected within 30 s or its alerts are not isolated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.experiment.file import load_experiment  # noqa: E402
from chaos.experiment.isolation import Expectation, describe, judge  # noqa: E402
from chaos.faults.actions import Injector, plan_fault  # noqa: E402
from chaos.runtime import start_system  # noqa: E402
from chaos.runtime.system import RunningSystem  # noqa: E402
from chaos.system.model import load_system  # noqa: E402
from dashboards.check import api, firing  # noqa: E402
from dashboards.slo import load_model  # noqa: E402
from loadtests.runner import LoadProcess, LoadSpec  # noqa: E402

GOAL_S = 30.0
QUIET_TIMEOUT_S = 420.0  # the longest ticket window (3d) is 36 min, but its short one 3 min
SYSTEM = ROOT / "sample_system" / "system.yaml"
EXPERIMENTS = [
    ROOT / "sample_system" / "experiments" / f"{name}.yaml"
    for name in ("payments-down", "payments-slow", "reviews-down", "payments-replica-killed",
                 "nats-down")
]  # fmt: skip

Labels = tuple[tuple[str, str], ...]


@dataclass
class Measured:
    """What one fault raised: alerts with the seconds from injection (or removal) to firing."""

    title: str
    expected: Expectation
    during: dict[Labels, float] = field(default_factory=dict)
    after: dict[Labels, float] = field(default_factory=dict)  # seconds after the removal

    @property
    def first(self) -> tuple[Labels, float] | None:
        return min(self.during.items(), key=lambda item: item[1], default=None)

    def to_json(self) -> dict[str, Any]:
        verdict = judge([dict(k) for k in self.during], self.expected)
        return {
            "fault": self.title,
            "detected_s": None if self.first is None else round(self.first[1], 2),
            "isolated": verdict.isolated,
            "during": [
                {**dict(k), "seconds": round(s, 2), "relation": self.expected.relation(dict(k))}
                for k, s in sorted(self.during.items(), key=lambda item: item[1])
            ],
            "after_removal": [
                {**dict(k), "seconds": round(s, 2), "relation": self.expected.relation(dict(k))}
                for k, s in sorted(self.after.items(), key=lambda item: item[1])
            ],
        }


def key(alert: dict[str, str]) -> Labels:
    return tuple(sorted(alert.items()))


def wait_quiet(prometheus: str, timeout: float = QUIET_TIMEOUT_S) -> float:
    """Wait until no alert fires; the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not firing(prometheus):
            return time.monotonic() - start
        time.sleep(0.5)
    raise SystemExit(f"alerts still firing after {timeout:.0f}s: {firing(prometheus)}")


def watch(prometheus: str, since: float, until: Any, seen: dict[Labels, float],
          ignore: set[Labels]) -> None:  # fmt: skip
    """Record alerts newly firing (not in `ignore`) with seconds since `since`, until `until()`."""
    while not until():
        for alert in firing(prometheus):
            if key(alert) not in ignore:
                seen.setdefault(key(alert), time.time() - since)
        time.sleep(0.25)


def measure(system: RunningSystem, experiment_file: Path, watch_s: float) -> Measured:
    prometheus = system.prometheus_url
    assert prometheus is not None
    experiment = load_experiment(experiment_file)
    expected = Expectation.of(experiment, system.spec)
    result = Measured(experiment.name, expected)
    quiet = wait_quiet(prometheus)
    time.sleep(5)
    injector = Injector(system.toxiproxy, system)
    fault = experiment.faults[0]
    before = {key(a) for a in firing(prometheus)}  # a straggler since the quiet check
    actions = [injector.apply(a) for a in plan_fault(fault, system.topology)]
    injected = time.time()
    print(f"{experiment.name}: quiet after {quiet:.0f}s; injected {expected.fault}", flush=True)
    try:

        def done() -> bool:
            first = result.first
            elapsed = time.time() - injected
            return elapsed > (first[1] + watch_s if first else 2 * GOAL_S)

        watch(prometheus, injected, done, result.during, before)
    finally:
        for action in reversed(actions):
            injector.undo(action)
    removed = time.time()
    ignore = before | set(result.during)
    quiet_by = removed + QUIET_TIMEOUT_S
    watch(prometheus, removed, lambda: not firing(prometheus) or time.time() > quiet_by,
          result.after, ignore)  # fmt: skip
    first = result.first
    print(f"  first: {first and describe(dict(first[0]))} after {first and round(first[1], 1)}s; "
          f"{len(result.during)} alerts during, {len(result.after)} new after removal",
          flush=True)  # fmt: skip
    return result


def baseline_slow_share(prometheus: str) -> None:
    """Print each edge's share of calls slower than its latency threshold over the last 20 s.

    DependencyLatencyHigh fires when the p95 is above the threshold, a bucket boundary: when
    more than 5 % of the calls are slower than it.
    """
    model = load_model(ROOT / "dashboards" / "slis.yaml")
    shares = []
    for edge in (e for e in model.edges if not e.broker):
        sel = f'service="{edge.caller}", server_address="{edge.callee}"'
        count = f"sum(rate(http_client_request_duration_seconds_count{{{sel}}}[20s]))"
        within = (
            f"sum(rate(http_client_request_duration_seconds_bucket"
            f'{{{sel}, le="{edge.latency_threshold:g}"}}[20s]))'
        )
        result = api(prometheus, "/api/v1/query", query=f"1 - {within} / {count}")["result"]
        share = f"{float(result[0]['value'][1]):.1%}" if result else "no calls"
        shares.append(f"{edge.caller}->{edge.callee} {share} (> {edge.latency_threshold:g}s)")
    print("baseline, calls slower than the latency threshold:", ", ".join(shares), flush=True)


def table(results: list[Measured]) -> list[str]:
    lines = [
        "| fault | first alert | seconds to detect | alerts naming the fault | upstream symptoms "
        "| journey alerts | unexpected | isolated | new after removal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = judge([dict(k) for k in r.during], r.expected)

        def cell(kind: str, r: Measured = r, verdict: Any = verdict) -> str:
            alerts = verdict.by_relation.get(kind, ())
            return ", ".join(f"{describe(a)} {r.during[key(dict(a))]:.0f}s" for a in alerts) or "-"

        first = r.first
        lines.append(
            f"| {r.title} | {describe(dict(first[0])) if first else 'none'} | "
            f"{f'{first[1]:.1f}' if first else 'not detected'} | {cell('names the fault')} | "
            f"{cell('upstream symptom')} | {cell('degraded journey')} | {cell('unexpected')} | "
            f"{'yes' if verdict.isolated else 'NO'} | "
            f"{', '.join(describe(dict(k)) for k in r.after) or '-'} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiments", nargs="*", type=Path, default=EXPERIMENTS)
    parser.add_argument("--watch", type=float, default=25.0,
                        help="seconds the fault stays on after the first alert")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the details here")
    args = parser.parse_args()
    spec = load_system(SYSTEM)
    assert spec.load is not None
    run_dir = Path(mkdtemp(prefix="alert-detection-"))
    print(f"run dir: {run_dir}", flush=True)
    results: list[Measured] = []
    with start_system(spec, run_dir=run_dir, prometheus=True) as system:
        assert system.prometheus_url is not None
        load = LoadSpec(
            locustfile=spec.load.locustfile,
            host=system.url("gateway"),
            run_dir=run_dir / "load",
            users=spec.load.users,
            env={**spec.load.env, "GAMEDAY_RUN_DIR": str(run_dir)},
        )
        with LoadProcess.start(load):
            query = "journey:sli_error:ratio_rate5m"
            while len(api(system.prometheus_url, "/api/v1/query", query=query)["result"]) < 8:
                time.sleep(0.5)  # every journey's two SLIs have data
            time.sleep(20)
            baseline_slow_share(system.prometheus_url)
            for path in args.experiments:
                results.append(measure(system, path, args.watch))
    print()
    print("\n".join(table(results)))
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    ok = [
        r.first is not None
        and r.first[1] <= GOAL_S
        and judge([dict(k) for k in r.during], r.expected).isolated
        for r in results
    ]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
