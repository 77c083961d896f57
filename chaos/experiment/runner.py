"""Running one experiment: system, load, timeline, faults, verdict, invariants, outputs.

    result = run_experiment(load_experiment("payments-down.yaml"))
    result.exit_code          # 0 held, 1 rejected, 3 not steady before, 4 invariants, 130/143

The timeline, under load from start to end:

    warm-up | baseline | inject -> fault window | remove -> recovery | stop load

Every fault is journalled before it is applied and undone on every way out: normal end,
error, Ctrl-C, SIGTERM (a handler turns it into an exception here). After a SIGKILL, the
run's watchdog stops its processes and runs `gameday rollback`, which undoes what the
journal still lists and marks the run crashed (see `chaos.experiment.crashed`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaos.errors import GamedayError
from chaos.experiment.alerts import alerts_by_phase, isolation
from chaos.experiment.attach import AttachedSystem, attach
from chaos.experiment.crashed import RUNS_DIR, RunGuard
from chaos.experiment.exporter import ExperimentExporter
from chaos.experiment.interrupts import ENDINGS, Signals, ending
from chaos.experiment.invariants import InvariantResult, run_invariants
from chaos.experiment.isolation import Expectation
from chaos.experiment.model import Experiment, Fault, check_against
from chaos.faults.actions import Injector, plan_fault
from chaos.faults.injection import inject, remove
from chaos.faults.journal import Journal, unique_run_dir
from chaos.judgement.verdict import ExperimentVerdict, Outcome, Phases, judge
from chaos.runtime.prometheus import extra_targets_dir
from chaos.runtime.system import RunningSystem, start_system
from chaos.scale.season import observe_autoscaling
from chaos.system.model import SystemSpec, load_system
from chaos.system.topology import Topology
from loadtests.errors import LoadtestError
from loadtests.runner import LoadProcess, LoadSpec
from loadtests.samples import SAMPLES_FILE
from loadtests.units import parse_duration
from loadtests.windows import SampleSet, SamplesFollower, Window, read_run

logger = logging.getLogger(__name__)

LOAD_DIR = "load"
# The runner stops the load itself at the end of the recovery; the load's own length only has
# to outlast the timeline (Locust's start-up comes out of the warm-up) and bounds a load whose
# runner died. Without it a shape with a default length (spike, season: 60 s) ends mid-run.
LOAD_SLACK_S = 30.0


class Observer(Protocol):
    """Follows a run (the live display). Its errors are logged, never raised."""

    def phase(self, name: str, ends_at: float) -> None: ...
    def fault(self, fault: Fault, state: str) -> None: ...
    def tick(self, samples: SampleSet, now: float) -> None: ...


@dataclass
class RunResult:
    """The outcome of one run and where its outputs are."""

    run_dir: Path
    status: str
    verdict: ExperimentVerdict | None = None
    invariants: InvariantResult | None = None
    error: str | None = None
    exit_code: int = 2
    outputs: list[Path] = field(default_factory=list)


def new_run_dir(experiment: Experiment, root: Path = RUNS_DIR) -> Path:
    """`.gameday/runs/<experiment>-<UTC time>` (unique)."""
    return unique_run_dir(root, experiment.name)


def load_duration(experiment: Experiment) -> float | None:
    """Seconds the load runs: the timeline and some slack (None: the experiment says)."""
    if "duration" in experiment.load.options:
        return None
    return experiment.schedule.total + LOAD_SLACK_S


def validate(experiment: Experiment) -> SystemSpec:
    """Load the experiment's system and check the experiment against it (before any action)."""
    spec = load_system(experiment.system)
    check_against(experiment, spec)
    own = experiment.load.options.get("duration")
    try:
        seconds = None if own is None else parse_duration(own)
    except ValueError as exc:
        raise GamedayError(f"{experiment.path}: load.options.duration: {exc}") from None
    if seconds is not None and seconds < experiment.schedule.total:
        raise GamedayError(
            f"{experiment.path}: load.options.duration {own} ends before the schedule "
            f"({experiment.schedule.total:g}s); remove it (the runner runs the load for the "
            "whole schedule) or make it longer"
        )
    if spec.slo is None:
        raise GamedayError(f"{experiment.system} has no journeys: an experiment needs their SLOs")
    if not any(s.public for s in spec.services.values()):
        raise GamedayError(
            f"{experiment.system} marks no service public: true; the load needs an entry point"
        )
    return spec


class _Run:
    def __init__(
        self,
        experiment: Experiment,
        spec: SystemSpec,
        run_dir: Path,
        observers: list[Observer],
        attached: AttachedSystem | None = None,
        prometheus: bool = False,
        guarded_by: dict[str, Any] | None = None,
    ) -> None:
        self.experiment = experiment
        self.prometheus = prometheus
        self.spec = spec
        self.run_dir = run_dir
        self.observers = observers
        self.attached = attached
        self.journal = Journal.create(
            run_dir,
            experiment=experiment.name,
            experiment_file=str(experiment.path),
            system_file=str(experiment.system),
            owns_system=attached is None,
            guarded_by=guarded_by,
        )
        self.load: LoadProcess | None = None
        self.injector: Injector | None = None
        self.windows: dict[str, tuple[float, float]] = {}
        self.signals = Signals()
        self.follower = SamplesFollower(run_dir / LOAD_DIR / SAMPLES_FILE)  # for the live view

    # -- observers ------------------------------------------------------------------------
    def _notify(self, method: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception:  # an observer must never break a run
                logger.exception("observer %r failed in %s", observer, method)

    def _wait_until(self, deadline: float) -> None:
        while True:
            now = time.time()
            if now >= deadline:
                return
            if self.load is not None and self.load.poll() is not None:
                raise GamedayError(
                    f"the load stopped early (exit {self.load.poll()}); see "
                    f"{self.run_dir / LOAD_DIR / 'locust.log'}"
                )
            time.sleep(min(0.5, deadline - now))
            if self.observers and self.load is not None:
                with contextlib.suppress(LoadtestError, OSError, ValueError):
                    self._notify("tick", self.follower.poll(), time.time())

    def _window(self, name: str, start: float, end: float) -> None:
        self.windows[name] = (start, end)
        self.journal.set_window(name, start, end)

    # -- faults ---------------------------------------------------------------------------
    def _inject(self, topology: Topology) -> None:
        assert self.injector is not None
        for fault in self.experiment.faults:
            inject(self.journal, self.injector, fault, plan_fault(fault, topology))
            self._notify("fault", fault, "applied")

    def cleanup(self) -> None:
        """Remove every fault and stop the load, before the system itself stops."""
        self.signals.hold("removing the faults and stopping the load")
        self._remove_all()
        if self.load is not None:
            self.load.stop()

    def _remove_all(self) -> None:
        """Undo every live fault of the journal (newest first); errors are recorded."""
        if self.injector is None:
            return
        for index, _ in self.journal.live_faults():
            if not remove(self.journal, self.injector, index):
                self._notify("fault", self.experiment.faults[index], "removed")

    # -- the run --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _system(self) -> Iterator[RunningSystem | AttachedSystem]:
        if self.attached is not None:
            yield self.attached
            return
        replicas = dict(self.experiment.replicas)
        with start_system(
            self.spec, run_dir=self.run_dir, replicas=replicas, prometheus=self.prometheus
        ) as system:
            yield system

    def _export(self, system: RunningSystem | AttachedSystem) -> ExperimentExporter | None:
        """With a runtime Prometheus: phases and faults as metrics it scrapes."""
        if system.prometheus_url is None or system.run_dir is None:
            return None
        exporter = ExperimentExporter.start(
            self.experiment.name, extra_targets_dir(system.run_dir), system=self.spec.name
        )
        self.observers.append(exporter)
        return exporter

    def execute(self) -> tuple[ExperimentVerdict, InvariantResult | None]:
        experiment, schedule = self.experiment, self.experiment.schedule
        with self._system() as system:
            self.journal.set(toxiproxy=system.toxiproxy_url)
            exporter = self._export(system)
            try:
                processes = system if isinstance(system, RunningSystem) else None
                self.injector = Injector(system.toxiproxy, processes)
                for fault in experiment.faults:  # resolvable before any load is sent
                    plan_fault(fault, system.topology)
                public = next(name for name, s in self.spec.services.items() if s.public)
                self.load = LoadProcess.start(
                    LoadSpec(
                        locustfile=experiment.load.locustfile,
                        host=system.url(public),
                        run_dir=self.run_dir / LOAD_DIR,
                        shape=experiment.load.shape,
                        users=experiment.load.users,
                        spawn_rate=experiment.load.spawn_rate,
                        duration=load_duration(experiment),
                        processes=experiment.load.processes,
                        shape_options=dict(experiment.load.options),
                        # found by `gameday rollback` should this process be killed
                        env={**experiment.load.env, "GAMEDAY_RUN_DIR": str(self.run_dir)},
                    )
                )
                start = time.time()
                warm_end = start + schedule.warmup
                self._notify("phase", "warm-up", warm_end)
                self._window("warmup", start, warm_end)
                self._wait_until(warm_end)

                baseline_end = warm_end + schedule.baseline
                self._notify("phase", "baseline", baseline_end)
                self._wait_until(baseline_end)
                self._window("baseline", warm_end, baseline_end)

                self._inject(system.topology)
                fault_start = time.time()
                fault_end = fault_start + schedule.fault
                self._notify("phase", "fault", fault_end)
                self._wait_until(fault_end)
                self._window("fault", fault_start, fault_end)

                self._remove_all()
                recovery_start = time.time()
                recovery_end = recovery_start + schedule.recovery
                self._notify("phase", "recovery", recovery_end)
                self._wait_until(recovery_end)
                self._window("recovery", recovery_start, recovery_end)

                self._notify("phase", "judging", time.time())
                if system.prometheus_url is not None:
                    expected = Expectation.of(experiment, self.spec)
                    alerts = alerts_by_phase(system.prometheus_url, self.windows, expected)
                    self.journal.set(alerts=alerts, alert_isolation=isolation(alerts, expected))
                self.load.stop()
                samples = read_run(self.run_dir / LOAD_DIR)
                phases = Phases(
                    *(whole_seconds(n, *self.windows[n]) for n in ("baseline", "fault", "recovery"))
                )
                assert self.spec.slo is not None
                verdict = judge(experiment.hypothesis, self.spec.slo, samples, phases)
                invariants = (
                    run_invariants(experiment.invariants, system, self.run_dir)
                    if experiment.invariants is not None
                    else None
                )
                return verdict, invariants
            finally:
                self.cleanup()
                if exporter is not None:
                    exporter.close()


def whole_seconds(name: str, start: float, end: float) -> Window:
    """The judged window of a phase: only the whole seconds inside it.

    Samples are per wall-clock second; a second cut by the injection belongs half to the
    baseline and half to the fault, and must be judged in neither.
    """
    first, last = math.ceil(start), math.floor(end)
    return Window(name, float(first), float(max(first, last)))


def run_experiment(
    experiment: Experiment,
    *,
    run_dir: Path | None = None,
    observers: list[Observer] | None = None,
    write_outputs: Callable[[RunResult, Experiment, Journal], list[Path]] | None = None,
    attach_to: Path | None = None,
    prometheus: bool = False,
) -> RunResult:
    """Run `experiment` end to end; never leaves a fault or a process behind.

    With `attach_to` (a `gameday up` state file) the run uses that running system instead of
    starting its own: proxy faults only, and the system keeps running afterwards.
    With `prometheus` the run's system also runs Prometheus (game-day profile); with it (or
    an attached system that runs one) the journal records the alerts fired in each phase.
    """
    spec = validate(experiment)
    attached = attach(experiment, attach_to) if attach_to is not None else None
    run_dir = run_dir or new_run_dir(experiment)
    guard = RunGuard.start(run_dir)  # if this process dies, its watchdog cleans up
    with guard.until_started():
        run = _Run(
            experiment, spec, run_dir, list(observers or []), attached, prometheus, guard.fields
        )
    result = RunResult(run_dir=run_dir, status="running")
    if write_outputs is not None:
        run.journal.set(reported=False)  # until its outputs are written: see Journal.unreported
    with run.signals:  # once the faults are going, signals are held: the run's record is whole
        try:
            try:
                verdict, invariants = run.execute()
            finally:
                run.cleanup()  # normally done already, before the system stopped
            run.signals.hold("judging the run")
            autoscaling = observe_autoscaling(
                experiment.autoscaling, spec, run_dir, run_dir / LOAD_DIR, run.windows
            )
            outcome = verdict.outcome
            if autoscaling is not None and not autoscaling.passed and outcome is Outcome.HELD:
                outcome = Outcome.REJECTED
            if invariants is not None and not invariants.passed and outcome is Outcome.HELD:
                outcome = Outcome.INVARIANTS_VIOLATED
            result.status, result.verdict, result.invariants = "completed", verdict, invariants
            result.exit_code = outcome.exit_code
            run.journal.finish(
                "completed",
                deviated=verdict.deviated,
                verdict={
                    **verdict.to_json(),
                    "outcome": outcome.label,
                    "exit_code": outcome.exit_code,
                },
                invariants=invariants.to_json() if invariants else None,
                autoscaling=autoscaling.to_json() if autoscaling else None,
            )
        except ENDINGS as exc:
            result.status, result.error, result.exit_code = ending(exc)
            run.journal.finish(result.status, error=result.error)
        run.signals.hold("writing the run's summary and JUnit")
        if write_outputs is not None:
            result.outputs = write_outputs(result, experiment, run.journal)
            run.journal.set(reported=True)
    guard.release()
    return result
