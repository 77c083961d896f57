"""`gameday scale SYSTEM --service S --journey J`: capacity per replica count, on a live system.

One system is started (autoscaling off); for each replica count the service is scaled in
place (chaos.runtime.scaler) and the journey's capacity searched (chaos.scale.knee): each
step runs the open-model user of the journey (the system file's `load:` section) at one
arrival rate for `step_seconds` after a warm-up, and passes when the journey meets its SLO
over the judged seconds (chaos.judgement.slo) and the load generator kept its schedule.
Every service's telemetry is read during each step, to name the saturated one at the knee.
Between steps the system settles: no request in flight and no backlog (deferred work a
service still owes, docs/scaling.md), so an overloaded step's leftovers do not fail the next.
With `probe`, one more step per count runs at 1.2 x the first count's capacity: the same
offered load for every count, compared statistically (chaos.scale.gain).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.errors import ConfigInvalid, GamedayError
from chaos.judgement.slo import evaluate
from chaos.runtime.system import RunningSystem, start_system
from chaos.runtime.telemetry import Reading, Usage, read_replica, wait_settled
from chaos.scale.knee import KneeSearch, Step, capacity
from chaos.scale.saturation import Attribution, attribute
from chaos.system.model import JourneyLoad, LoadProfile, SystemSpec, load_system
from loadtests.runner import LoadProcess, LoadSpec
from loadtests.slo import SloSpec
from loadtests.windows import Window, WindowStats, read_run

logger = logging.getLogger(__name__)

WARMUP_S = 3.0
MAX_LATE = 0.05  # more late arrivals than this: the load generator, not the system, is the limit
PROBE_FACTOR = 1.2
SETTLE_TIMEOUT_S = 120.0  # at most this long between steps for in-flight requests and backlogs


@dataclass(frozen=True, kw_only=True)
class ScaleOptions:
    """What `gameday scale` was asked for."""

    system: Path
    service: str
    journey: str
    replicas: tuple[int, ...] = (1, 2, 3)
    start_rate: float | None = None
    step_seconds: float = 10.0
    tolerance: float = 0.05
    probe: bool = True
    run_dir: Path | None = None


@dataclass
class CountResult:
    """Everything measured at one replica count."""

    replicas: int
    steps: list[Step] = field(default_factory=list)
    capacity: float | None = None
    knee: Attribution | None = None
    above: Attribution | None = None
    probe: Step | None = None
    probe_stats: WindowStats | None = None
    baseline_cpu: dict[str, float] = field(default_factory=dict)


@dataclass
class ScaleResult:
    """The outcome of a run."""

    run_dir: Path
    counts: list[CountResult]
    summary: str = ""
    outputs: list[Path] = field(default_factory=list)
    journal: dict[str, Any] = field(default_factory=dict)


def check_options(spec: SystemSpec, options: ScaleOptions) -> tuple[LoadProfile, JourneyLoad]:
    """ConfigInvalid naming the fix when the system file cannot drive this search."""
    if options.service not in spec.services:
        raise ConfigInvalid(
            f"--service {options.service!r} is not a service of {spec.source}; "
            f"services: {', '.join(spec.services)}"
        )
    if options.journey not in spec.journeys:
        raise ConfigInvalid(
            f"--journey {options.journey!r} has no SLO under journeys in {spec.source}; "
            f"journeys: {', '.join(spec.journeys) or 'none'}"
        )
    driver = spec.load
    if driver is None or options.journey not in driver.journeys:
        raise ConfigInvalid(
            f"{spec.source} does not say how to load journey {options.journey!r} on its own; "
            f"add it under load.journeys, e.g. '{options.journey}: {{user_class: "
            f"{options.journey.capitalize()}Arrivals, rate_env: RATE_{options.journey.upper()}}}'"
            " (docs/system-file.md)"
        )
    if not any(s.public for s in spec.services.values()):
        raise ConfigInvalid(f"{spec.source} marks no service public: the load needs one")
    return driver, driver.journeys[options.journey]


def journey_slo(spec: SystemSpec, journey: str) -> SloSpec:
    """The system's SLO spec reduced to one journey."""
    assert spec.slo is not None
    kept = tuple(j for j in spec.slo.journeys if j.journey == journey)
    return dataclasses.replace(spec.slo, journeys=kept, window_s=None, warmup_s=0.0)


class _Telemetry:
    """Reads every replica of every service once a second while a step runs."""

    def __init__(self, system: RunningSystem) -> None:
        self.system = system
        self.readings: list[tuple[float, dict[tuple[str, int], Reading]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scale-telemetry")

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            found = {}
            for plan in self.system.topology.processes:
                if plan.metrics is not None and not plan.infrastructure:
                    reading = read_replica(plan.url, plan.metrics, timeout=1.0)
                    if reading is not None:
                        found[plan.service, plan.replica] = reading
            self.readings.append((now, found))
            self._stop.wait(max(0.0, 1.0 - (time.time() - now)))

    def __enter__(self) -> _Telemetry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def usages(self, window: Window) -> dict[str, list[Usage]]:
        """Per service, each replica's usage between the readings nearest the window's ends."""
        inside = [(t, r) for t, r in self.readings if window.start <= t <= window.end]
        if len(inside) < 2:
            return {}
        first, last = inside[0][1], inside[-1][1]
        usages: dict[str, list[Usage]] = {}
        for key, after in last.items():
            before = first.get(key)
            usage = Usage.between(before, after) if before is not None else None
            if usage is not None:
                usages.setdefault(key[0], []).append(usage)
        return usages


class _Search:
    def __init__(self, options: ScaleOptions, spec: SystemSpec, run_dir: Path) -> None:
        self.options = options
        self.spec = spec
        self.run_dir = run_dir
        self.driver, self.journey_load = check_options(spec, options)
        self.slo = journey_slo(spec, options.journey)
        self.public = next(n for n, s in spec.services.items() if s.public)
        self.cores = os.cpu_count() or 1
        self.count = 0

    def measure(self, system: RunningSystem, rate: float, label: str) -> tuple[Step, WindowStats]:
        """One step: the journey alone at `rate`/s; judged over the whole seconds after warm-up."""
        self.count += 1
        load_dir = self.run_dir / "steps" / f"{self.count:03d}-{label}-{rate:g}"
        spec = LoadSpec(
            locustfile=self.driver.locustfile,
            host=system.url(self.public),
            run_dir=load_dir,
            shape="steady",
            users=1,
            spawn_rate=1,
            duration=WARMUP_S + self.options.step_seconds + 1,
            env={
                **self.driver.env,
                self.journey_load.rate_env: f"{rate:g}",
                "GAMEDAY_RUN_DIR": str(self.run_dir),
            },
            # failed requests are what a step measures, not a failure of the load generator:
            # without this, Locust exits 1 on any of them and overload steps look like crashes
            extra_args=("--exit-code-on-error", "0", self.journey_load.user_class),
        )
        with _Telemetry(system) as telemetry, LoadProcess.start(spec) as load:
            code = load.wait(timeout=WARMUP_S + self.options.step_seconds + 90)
        if code != 0:
            raise GamedayError(
                f"the load at {rate:g}/s exited with {code}; see {load_dir}/locust.log"
            )
        samples = read_run(load_dir)
        span = samples.span
        if span is None:
            raise GamedayError(
                f"the load at {rate:g}/s recorded nothing; see {load_dir}/locust.log"
            )
        start = span.start + WARMUP_S
        window = Window("step", start, min(span.end - 1, start + self.options.step_seconds))
        stats = samples.stats(self.options.journey, window)
        verdict = evaluate(self.slo, samples, [window])
        late = sum(
            s.late
            for s in samples.per_second(self.options.journey)
            if window.contains(int(s.window.start))
        ) / max(1, stats.offered)
        reasons = [c.format() for c in verdict.breaches]
        if late > MAX_LATE:
            reasons.append(f"load generator late for {late:.0%} of arrivals: result not usable")
        usages = telemetry.usages(window)
        step = Step(
            rate=rate,
            passed=verdict.passed and late <= MAX_LATE,
            achieved=stats.throughput,
            p95_ms=stats.percentile_ms(95),
            error_rate=stats.error_rate,
            late=late,
            reasons=tuple(reasons),
            started=window.start,
            ended=window.end,
            detail={
                "offered_measured": stats.offered_rate,
                "good": (stats.count - stats.failures) / max(1, stats.seconds),
                "requests": stats.count,
                "attribution": attribute(usages, self.cores).to_json(),
            },
        )
        logger.info(
            "%s at %g/s: %s (achieved %.2f/s, p95 %s ms)",
            label,
            rate,
            "pass" if step.passed else "FAIL",
            step.achieved,
            step.p95_ms,
        )
        print(
            f"  {label}: {rate:7.2f}/s offered, {step.achieved:7.2f}/s achieved "
            f"({step.detail['good']:5.2f}/s good), p95 "
            f"{step.p95_ms or float('nan'):7.0f} ms, errors {step.error_rate:6.1%} -> "
            f"{'pass' if step.passed else 'FAIL'}",
            flush=True,
        )
        step.detail["settled"] = self._settle(system)
        return step, stats

    def _settle(self, system: RunningSystem) -> dict[str, Any]:
        """Wait until nothing is in flight or owed (at most SETTLE_TIMEOUT_S); say so if slow."""
        settled = wait_settled(system.topology.processes, timeout=SETTLE_TIMEOUT_S)
        time.sleep(1.0)
        seconds = settled.seconds
        if settled.owed:
            left = ", ".join(f"{name} {items:g}" for name, items in sorted(settled.owed.items()))
            print(f"  still owed after {seconds:.0f}s (backlog items): {left}", flush=True)
        elif seconds > 5:
            print(f"  settled in {seconds:.0f}s (nothing in flight, no backlog)", flush=True)
        return settled.to_json()

    def search(self, system: RunningSystem, n: int, start: float) -> CountResult:
        result = CountResult(n)
        knee = KneeSearch(start=start, tolerance=self.options.tolerance)
        stats: dict[float, Attribution] = {}
        while (rate := knee.next_rate(result.steps)) is not None:
            step, _ = self.measure(system, rate, f"n{n}")
            result.steps.append(step)
            stats[rate] = _attribution(step)
        result.capacity = capacity(result.steps)
        if result.capacity is not None:
            result.knee = stats[result.capacity]
            above = [s.rate for s in result.steps if not s.passed and s.rate > result.capacity]
            if above:
                result.above = stats[min(above)]
        return result


def _attribution(step: Step) -> Attribution:
    from chaos.scale.saturation import ServiceLoad

    data = step.detail["attribution"]
    loads = tuple(
        ServiceLoad(**{k: v for k, v in s.items() if k != "saturation"}) for s in data["services"]
    )
    return Attribution(loads, data["bottleneck"], data["machine_cpu"], data["cores"])


def default_run_dir(options: ScaleOptions) -> Path:
    """`.gameday/runs/scale-<service>-<journey>-<UTC time>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(".gameday") / "runs" / f"scale-{options.service}-{options.journey}-{stamp}"


def run_scale(options: ScaleOptions) -> ScaleResult:
    """Measure capacity per replica count; write journal.json, summary.md, report.html."""
    from chaos.scale.report import write_outputs

    spec = load_system(options.system)
    run_dir = (options.run_dir or default_run_dir(options)).resolve()
    search = _Search(options, spec, run_dir)
    counts: list[CountResult] = []
    began = time.monotonic()
    first = options.replicas[0]
    with start_system(
        spec, run_dir=run_dir / "system", replicas={options.service: first}, autoscale=False
    ) as system:
        others = {n: system.replicas(n) for n in spec.services if n != options.service}
        for n in options.replicas:
            system.scale(options.service, n)
            previous = next((c for c in reversed(counts) if c.capacity), None)
            start = options.start_rate or (
                max(1.0, previous.capacity * n / previous.replicas * 0.8)  # type: ignore[operator]
                if previous is not None
                else 5.0
            )
            print(
                f"{options.service} x{n}: searching {options.journey} capacity from {start:.2f}/s",
                flush=True,
            )
            result = search.search(system, n, round(start, 3))
            if options.probe and counts and counts[0].capacity:
                probe_rate = round(counts[0].capacity * PROBE_FACTOR, 3)
                result.probe, result.probe_stats = search.measure(system, probe_rate, f"probe-n{n}")
            elif options.probe and result.capacity:
                probe_rate = round(result.capacity * PROBE_FACTOR, 3)
                result.probe, result.probe_stats = search.measure(system, probe_rate, f"probe-n{n}")
            counts.append(result)
            unchanged = {s: system.replicas(s) for s in others}
            if unchanged != others:
                raise GamedayError(
                    f"other services' replica counts changed: {others} -> {unchanged}"
                )
    elapsed = time.monotonic() - began
    outcome = ScaleResult(run_dir, counts)
    write_outputs(outcome, options, spec, elapsed, others)
    return outcome
