"""`load(journey, rate, seconds)`: one journey alone at an open-model rate, and its statistics.

    result = load("browse", rate=10, seconds=5)
    result.p95, result.p99, result.error_rate, result.errors     # {'503': 12}
    result.offered_rate, result.achieved_rate, result.meets_slo

The system file's `load:` section says how: its locustfile, its `env`, and per journey the
open-model user class that runs it alone and the variable that sets its arrival rate
(`load.journeys.<journey>: {user_class, rate_env}`). The load runs in its own `locust`
process (Locust patches the interpreter with gevent: never inside pytest's), with its
samples in `<session run dir>/load/<n>-<journey>/`.

What is judged: the whole seconds after the first one (started part-way) and `warmup`
more, `seconds` of them, the last recorded second (cut by the stop) excluded. Latencies
count every completed request, failed or not, from its intended start (no coordinated
omission); a percentile is NaN when no request completed, so any comparison with it fails.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import ConfigInvalid, RuntimeFailure
from chaos.judgement.slo import Verdict, evaluate
from chaos.runtime.process import tail
from chaos.scale.run import journey_slo
from chaos.system.model import JourneyLoad, LoadProfile, SystemSpec
from chaos.testing.system import SystemUnderTest
from chaos.yamldoc import suggest
from loadtests.errors import LoadtestError
from loadtests.runner import LOG_FILE, LoadProcess, LoadSpec
from loadtests.windows import SampleSet, Window, WindowStats, read_run

LOAD_DIR = "load"
EXIT_OK = (0, 1)  # Locust exits 1 when a request failed: that is a result, not an error
STOP_GRACE = 60.0  # seconds the load may run over its duration before it is killed

Note = Callable[[str], None]


def journey_driver(spec: SystemSpec, journey: str) -> tuple[LoadProfile, JourneyLoad]:
    """How the system file loads `journey` alone; ConfigInvalid names the fix."""
    __tracebackhide__ = True
    call = f"load({journey!r})"
    profile = spec.load
    if profile is None:
        raise ConfigInvalid(
            f"{call}: {spec.source} has no load: section; add one naming the locustfile and "
            f"how to run each journey alone, e.g. load: {{locustfile: locustfile.py, users: 1, "
            f"journeys: {{{journey}: {{user_class: {journey.capitalize()}Arrivals, rate_env: "
            f"RATE_{journey.upper()}}}}}}} (docs/system-file.md)"
        )
    driver = profile.journeys.get(journey)
    if driver is not None:
        return profile, driver
    if journey in spec.journeys:
        raise ConfigInvalid(
            f"{call}: {spec.source} does not say how to load journey {journey!r} alone; add "
            f"under load.journeys: '{journey}: {{user_class: {journey.capitalize()}Arrivals, "
            f"rate_env: RATE_{journey.upper()}}}' (docs/system-file.md)"
        )
    loadable = list(profile.journeys)
    raise ConfigInvalid(
        f"{call}: {journey!r} is not a journey of {spec.source}{suggest(journey, loadable)}; "
        f"load.journeys names {', '.join(loadable) or 'none'}"
    )


def judged_window(seconds_seen: list[int], warmup: float, seconds: float) -> Window | None:
    """The whole seconds judged in a load that recorded `seconds_seen` (None: none left)."""
    if not seconds_seen:
        return None
    first, last = seconds_seen[0], seconds_seen[-1]
    start = first + 1 + math.ceil(warmup)  # the first second started part-way
    end = min(start + math.ceil(seconds), last)  # the last one was cut by the stop
    return Window("load", float(start), float(end)) if end > start else None


def _ms(value: float | None) -> float:
    return math.nan if value is None else value


@dataclass(frozen=True)
class LoadResult:
    """One journey's requests over the judged seconds of one `load(...)`."""

    journey: str
    rate: float | None  # arrivals per second asked for (None: the user class's own)
    seconds: int  # whole seconds judged
    count: int  # completed requests (arrivals), failed or not
    failures: int
    dropped: int  # arrivals never sent (the user's max_in_flight was reached)
    late: int  # arrivals the load generator started late (it was starved)
    errors: Mapping[str, int]  # failures by kind: {'503': 12, 'ReadTimeout': 1}
    p50: float  # latency in ms, NaN when no request completed
    p95: float
    p99: float
    max: float
    offered_rate: float  # arrivals per second asked for, measured (sent or dropped)
    achieved_rate: float  # completed requests per second
    slo: Verdict = field(repr=False)  # the journey's SLO (system file) over the judged seconds
    run_dir: Path = field(repr=False)
    stats: WindowStats = field(repr=False)

    @classmethod
    def of(
        cls, stats: WindowStats, *, rate: float | None, slo: Verdict, run_dir: Path
    ) -> LoadResult:
        """The result of the window `stats` covers."""
        return cls(
            journey=stats.journey,
            rate=rate,
            seconds=stats.seconds,
            count=stats.count,
            failures=stats.failures,
            dropped=stats.dropped,
            late=stats.late,
            errors=dict(stats.errors),
            p50=_ms(stats.percentile_ms(50)),
            p95=_ms(stats.percentile_ms(95)),
            p99=_ms(stats.percentile_ms(99)),
            max=_ms(stats.max_ms()),
            offered_rate=stats.offered_rate,
            achieved_rate=stats.throughput,
            slo=slo,
            run_dir=run_dir,
            stats=stats,
        )

    @property
    def error_rate(self) -> float:
        """(failures + dropped) / offered; 0.0 when nothing was offered."""
        return self.stats.error_rate

    @property
    def meets_slo(self) -> bool:
        """True when the journey met every objective of its SLO over the judged seconds."""
        return self.slo.passed

    def __repr__(self) -> str:
        asked = f"{self.rate:g}/s asked, " if self.rate is not None else ""
        errors = f" {dict(self.errors)}" if self.errors else ""
        dropped = f", {self.dropped} dropped" if self.dropped else ""
        late = f", {self.late} started late" if self.late else ""
        breaches = "; ".join(
            f"{c.metric} {c.limit} observed {c.observed}" for c in self.slo.breaches
        )
        return (
            f"LoadResult({self.journey}: {self.count} requests in {self.seconds}s, {asked}"
            f"{self.offered_rate:.1f}/s offered, {self.achieved_rate:.1f}/s achieved; "
            f"p50 {self.p50:.0f}ms p95 {self.p95:.0f}ms p99 {self.p99:.0f}ms; "
            f"errors {self.error_rate:.1%}{errors}{dropped}{late}; "
            f"SLO {'met' if self.slo.passed else 'BREACHED: ' + breaches})"
        )


class Load:
    """The `load` fixture: `load(journey, rate=None, seconds=5)` returns a LoadResult."""

    def __init__(self, system: SystemUnderTest, *, note: Note | None = None) -> None:
        self.system = system
        self.note = note or (lambda line: None)

    def __repr__(self) -> str:
        return f"<load helper of {self.system.spec.name!r}>"

    def __call__(
        self, journey: str, rate: float | None = None, seconds: float = 5, *, warmup: float = 1
    ) -> LoadResult:
        """Run `journey` alone at `rate` arrivals/s (default: the system file's `rate_env`)
        for `warmup` + `seconds` whole seconds, and return what the judged seconds saw."""
        __tracebackhide__ = True
        spec = self.system.spec
        profile, driver = journey_driver(spec, journey)
        call = f"load({journey!r}, rate={rate!r}, seconds={seconds!r})"
        for name, value, least in (("rate", rate, 0.0), ("seconds", seconds, 0.0)):
            if value is not None and not (math.isfinite(value) and value > least):
                raise ConfigInvalid(f"{call}: {name} must be a number > 0, got {value!r}")
        if not (math.isfinite(warmup) and warmup >= 0):
            raise ConfigInvalid(f"{call}: warmup must be a number >= 0, got {warmup!r}")
        asked = rate if rate is not None else _env_rate(profile, driver)
        run_dir = self._next_dir(journey)
        env = {**profile.env, "GAMEDAY_RUN_DIR": str(self.system.run_dir)}
        if rate is not None:
            env[driver.rate_env] = f"{rate:g}"
        load_spec = LoadSpec(
            locustfile=profile.locustfile,
            host=self.system.entry_url,
            run_dir=run_dir,
            shape="steady",
            users=1,
            spawn_rate=1,
            duration=math.ceil(warmup) + math.ceil(seconds) + 1.5,  # + the cut first second
            env=env,
            extra_args=(driver.user_class,),
        )
        samples = _run(load_spec, call, cwd=Path(spec.root))
        window = judged_window(samples.seconds(journey), warmup, seconds)
        if window is None:
            seen = ", ".join(samples.journeys) or "none"
            raise RuntimeFailure(
                f"{call}: the load recorded no whole second of journey {journey!r} (journeys "
                f"seen: {seen}); does {driver.user_class} report journey = {journey!r}? "
                f"last lines of {run_dir / LOG_FILE}:\n{tail(run_dir / LOG_FILE)}"
            )
        assert spec.slo is not None  # every journey under load.journeys has an SLO
        slo = evaluate(journey_slo(spec, journey), samples, [window])
        result = LoadResult.of(samples.stats(journey, window), rate=asked, slo=slo, run_dir=run_dir)
        self.note(f"{call}: {result!r}")
        return result

    def _next_dir(self, journey: str) -> Path:
        root = self.system.run_dir / LOAD_DIR
        root.mkdir(parents=True, exist_ok=True)
        number = sum(1 for _ in root.iterdir()) + 1
        while (root / f"{number:03d}-{journey}").exists():
            number += 1
        return root / f"{number:03d}-{journey}"


def _env_rate(profile: LoadProfile, driver: JourneyLoad) -> float | None:
    try:
        return float(profile.env[driver.rate_env])
    except (KeyError, ValueError):
        return None


def _run(spec: LoadSpec, call: str, *, cwd: Path) -> SampleSet:
    """Run the load in `cwd` to its end (stopped on any way out) and read its samples."""
    __tracebackhide__ = True
    log = spec.run_dir / LOG_FILE
    with LoadProcess.start(spec, cwd=cwd) as process:
        try:
            code = process.wait(timeout=(spec.duration or 0) + STOP_GRACE)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure(
                f"{call}: the load did not end {STOP_GRACE:.0f}s after its duration; last "
                f"lines of {log}:\n{tail(log)}"
            ) from None
    if code not in EXIT_OK:
        raise RuntimeFailure(
            f"{call}: the load exited with {code}; last lines of {log}:\n{tail(log)}"
        )
    try:
        return read_run(spec.run_dir)
    except LoadtestError as exc:
        raise RuntimeFailure(f"{call}: {exc}; last lines of {log}:\n{tail(log)}") from exc
