"""Running the matrix: one system, one load, one baseline, then the cells one after another.

    result = run_matrix(load_system("sample_system/system.yaml"))
    result.exit_code      # 0 every cell held; 1 a cell did not; 3 not steady; 4 invariants

The timeline, under one steady open-model load that runs from start to end:

    warm-up | baseline | cell 1: inject, window, remove, wait for recovery | cell 2: ...

- **Baseline.** Each cell is compared with the most recent `matrix.baseline` seconds of
  quiet load: the first baseline, then the seconds after each recovery. The baseline moves
  with the system, so slow drift never makes an old baseline unfair.
- **Recovery.** After the removal the runner polls the samples until every journey has met
  its SLO for `matrix.settle` whole seconds, at most `matrix.recover_within` seconds. A cell
  that never recovers fails, and every process of the system is restarted before the next.
- **Invariants** (the system file's `invariants`) run after every cell whose fault can touch
  data (`invariants.after`: fault kinds and services, default `kill`), with its `under_load`
  command while the load runs, and once at the end, when the load has stopped.
- Faults go through the same journal as experiments: SIGINT/SIGTERM remove them, and after
  a SIGKILL `gameday rollback` does.

The verdict is computed at the end, from the whole samples file (chaos.judgement.matrix).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.errors import GamedayError, RuntimeFailure
from chaos.experiment.attach import AttachedSystem, attach_system
from chaos.experiment.crashed import RunGuard
from chaos.experiment.interrupts import ENDINGS, Signals, ending
from chaos.experiment.invariants import InvariantResult, run_invariants
from chaos.faults.actions import Injector, plan_fault
from chaos.faults.injection import inject, remove_live
from chaos.faults.journal import Journal
from chaos.judgement.matrix import CellRecord, CellWindows, MatrixVerdict, judge_matrix
from chaos.judgement.slo import evaluate
from chaos.judgement.verdict import Outcome
from chaos.matrix.callgraph import CallGraph, build_call_graph, read_spans
from chaos.matrix.expectations import Claim, Finding, expect
from chaos.matrix.plan import Cell
from chaos.matrix.quiet import QuietSeconds, rebaseline, whole
from chaos.matrix.result import (
    LOAD_DIR,
    MatrixResult,
    Observer,
    cell_json,
    check_runnable,
    new_run_dir,
)
from chaos.runtime.system import RunningSystem, start_system
from chaos.system.model import SystemSpec
from loadtests.errors import LoadtestError
from loadtests.runner import LoadProcess, LoadSpec
from loadtests.samples import SAMPLES_FILE
from loadtests.windows import SampleSet, SamplesFollower, Window, read_run

if TYPE_CHECKING:
    from chaos.faults.hostile import HostileLoad

logger = logging.getLogger(__name__)

POLL = 0.2  # seconds between looks at the samples while waiting for a recovery
FLUSHED = 0.4  # a second is in the samples file this long after it ended (flushes: 0.25 s)
INJECT_AHEAD = 0.1  # inject this long before a second begins: the window starts with it
SPANS_EXPORTED = 6.0  # spans reach their files within this (the SDK's batch delay is 5 s)


class _Matrix:
    def __init__(
        self,
        spec: SystemSpec,
        cells: list[Cell],
        run_dir: Path,
        observers: list[Observer],
        attached: AttachedSystem | None,
        *,
        plan_only: bool = False,
        guarded_by: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.plan_only = plan_only
        self.spec = spec
        self.cells = cells
        self.run_dir = run_dir
        self.observers = observers
        self.attached = attached
        self.clock = clock
        self.sleep = sleep
        self.settings = spec.matrix
        self.journal = Journal.create(
            run_dir,
            experiment=f"matrix-{spec.name}",
            experiment_file=spec.source,
            system_file=spec.source,
            owns_system=attached is None,
            guarded_by=guarded_by,
        )
        self.journal.set(kind="matrix", plan=[cell_json(c) for c in cells], cells=[])
        self.signals = Signals()
        self.load: LoadProcess | None = None
        self.injector: Injector | None = None
        self.system: RunningSystem | AttachedSystem | None = None
        self.follower = SamplesFollower(run_dir / LOAD_DIR / SAMPLES_FILE)
        self.quiet = QuietSeconds()
        self.attempts: dict[str, list[tuple[CellWindows, CellRecord]]] = {}
        self.rebased: dict[str, int] = {}  # attempts per cell whose baseline is settled
        self.claims: dict[str, tuple[Claim, ...]] = {}
        self.findings: list[Finding] = []
        self.call_graph: CallGraph | None = None
        self.steady_before = True

    # -- helpers ------------------------------------------------------------------------------
    def _notify(self, method: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception:  # an observer must never break a run
                logger.exception("observer %r failed in %s", observer, method)

    def _wait(self, seconds: float) -> None:
        deadline = self.clock() + seconds
        while (left := deadline - self.clock()) > 0:
            self._check_load()
            self.sleep(min(0.5, left))

    def _check_load(self) -> None:
        if self.load is not None and self.load.poll() is not None:
            raise GamedayError(
                f"the load stopped early (exit {self.load.poll()}); see "
                f"{self.run_dir / LOAD_DIR / 'locust.log'}"
            )

    def _samples(self) -> SampleSet:
        with contextlib.suppress(LoadtestError, OSError, ValueError):
            return self.follower.poll()
        return self.follower.samples

    def _meets_slo(self, window: Window) -> bool:
        assert self.spec.slo is not None
        verdict = evaluate(self.spec.slo, self._samples(), windows=[window])
        return bool(verdict.checks) and verdict.passed

    # -- faults -------------------------------------------------------------------------------
    def _inject(self, cell: Cell) -> int | None:
        assert self.injector is not None and self.system is not None
        if cell.fault is None:
            return None
        return inject(
            self.journal, self.injector, cell.fault, plan_fault(cell.fault, self.system.topology)
        )

    def remove_all(self) -> None:
        """Undo every live fault of the journal (newest first); errors are recorded."""
        if self.injector is not None:
            remove_live(self.journal, self.injector)

    def cleanup(self) -> None:
        """Remove every fault and stop the load, before the system itself stops."""
        self.signals.hold("removing the faults and stopping the load")
        self.remove_all()
        if self.load is not None:
            self.load.stop()

    # -- the run --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _system(self) -> Iterator[RunningSystem | AttachedSystem]:
        if self.attached is not None:
            yield self.attached
            return
        # Replica counts stay fixed: a cell's blast radius is the fault's, not an autoscaler's.
        with start_system(self.spec, run_dir=self.run_dir, autoscale=False) as system:
            yield system

    def _start_load(self, system: RunningSystem | AttachedSystem) -> LoadProcess:
        load = self.spec.load
        assert load is not None
        return LoadProcess.start(
            LoadSpec(
                locustfile=load.locustfile,
                host=system.url(self.spec.public[0]),
                run_dir=self.run_dir / LOAD_DIR,
                shape=load.shape,
                users=load.users,
                spawn_rate=load.spawn_rate,
                processes=load.processes,
                shape_options=dict(load.options),
                env={
                    **load.env,
                    "GAMEDAY_RUN_DIR": str(self.run_dir),
                    "GAMEDAY_TRACE_RATIO": str(self.settings.trace_ratio),
                },
            )
        )

    def execute(self) -> InvariantResult | None:
        settings = self.settings
        with self._system() as system:
            self.system = system
            self.journal.set(toxiproxy=system.toxiproxy_url)
            try:
                processes = system if isinstance(system, RunningSystem) else None
                self.injector = Injector(system.toxiproxy, processes)
                for cell in self.cells:  # every injection resolves before any load is sent
                    if cell.runs and cell.fault is not None:
                        plan_fault(cell.fault, system.topology)
                self.load = self._start_load(system)
                self._notify("phase", "warm-up", settings.warmup)
                self._wait(settings.warmup)
                start = self.clock()
                self._notify("phase", "baseline", settings.baseline)
                self._wait(settings.baseline + 1.0)  # +1 s: the last second is flushed
                baseline = whole("baseline", start, self.clock() - 1.0)
                self.journal.set_window("baseline", baseline.start, baseline.end)
                self.quiet.parts.append(baseline)
                self.steady_before = self._meets_slo(baseline)
                if not self.steady_before or self.plan_only:
                    self._wait(SPANS_EXPORTED)  # the baseline's last spans reach their files
                    self._derive_claims(self._samples(), [baseline])
                    return None
                runnable = [c for c in self.cells if c.runs]
                for number, cell in enumerate(runnable, start=1):
                    self._run_cell(cell, number, len(runnable))
                failed = [c.cell for c in self.judge().failed if c.cell.runs]
                if failed:  # a failure must reproduce (chaos.judgement.matrix)
                    self._notify("phase", f"again: {len(failed)} failed cell(s)", 0.0)
                    for number, cell in enumerate(failed, start=1):
                        self._run_cell(cell, number, len(failed))
                self._notify("phase", "invariants", 0.0)
                if self.load is not None:
                    self.load.stop()  # the last audit sees a quiet system
                return self._invariants()
            finally:
                self.cleanup()

    def _derive_claims(self, samples: SampleSet, quiet: list[Window]) -> None:
        """Each journey's call graph from its traces in `quiet` seconds, then every claim."""
        journeys = self.spec.journeys
        traces = {j: [t for w in quiet for t in samples.trace_ids(j, w)] for j in journeys}
        spans = read_spans(self.run_dir / "traces", {t for ids in traces.values() for t in ids})
        self.call_graph = build_call_graph(traces, spans)
        self.findings = []
        for cell in self.cells:
            claims, findings = expect(cell, journeys, self.call_graph, self.spec)
            self.claims[cell.id] = claims
            self.findings += findings
        self.journal.set(
            call_graph=self.call_graph.to_json(),
            findings=[f.to_json() for f in self.findings],
        )

    def _align(self) -> None:
        """Wait until just before the next whole second (samples are per second)."""
        now = self.clock()
        start = math.floor(now) + 1 - INJECT_AHEAD
        self.sleep(start - now if start > now else start + 1 - now)

    def _run_cell(self, cell: Cell, number: int, total: int) -> None:
        settings = self.settings
        hostile = self._hostile() if cell.kind == "hostile_input" else None
        self._align()
        baseline = self.quiet.last(settings.baseline)
        self.quiet.close(self.clock())
        index = self._inject(cell)
        if hostile is not None:
            hostile.start()
        on = self.clock()
        self._wait(math.ceil(on) + settings.window - self.clock())  # ends on a whole second
        off = self.clock()
        problems: list[str] = []
        details: dict[str, Any] = {}
        if hostile is not None:
            report = hostile.stop()
            details["hostile_input"] = report.to_json()
            problems += report.problems
        if index is not None:
            self.remove_all()
        checked = self._touches_data(cell)
        with ThreadPoolExecutor(max_workers=1) as audits:
            # the invariants are checked while the system recovers (the audit judges only
            # what is older than its grace: not the requests of this fault window)
            audit = audits.submit(self._run_invariants, under_load=True) if checked else None
            recovered = self._wait_recovered(off)
            result = audit.result() if audit is not None else None
        if recovered is None:
            problems.append(
                f"not back within SLO {settings.recover_within:.0f}s after the fault was "
                "removed; every process was restarted before the next cell"
            )
            self._restart()
        final = False
        if result is not None:
            details["invariants"] = result.to_json()
            if not result.passed:
                final = True
                problems.append(f"invariants violated: {result.summary()}")
        # quiet again once recovered and checked (the audit's own load is not a baseline)
        self.quiet.open(self.clock() if recovered is None or checked else recovered)
        fault = whole("fault", on, off)
        windows = CellWindows(
            baseline, fault, Window("recovery", fault.end, float(math.floor(self.clock())))
        )
        self.attempts.setdefault(cell.id, []).append(
            (windows, CellRecord(tuple(problems), final, details))
        )
        self.journal.set(
            cells=[
                *self.journal.data["cells"],
                {
                    "id": cell.id,
                    "attempt": len(self.attempts[cell.id]),
                    "fault_index": index,
                    "windows": windows.to_json(),
                    "baseline_parts": [[p.start, p.end] for p in baseline.parts],
                    "recovered_after_s": None if recovered is None else recovered - off,
                    "problems": problems,
                    "details": details,
                },
            ],
            quiet=[[p.start, p.end] for p in self.quiet.parts],  # for a judge after a crash
        )
        took = None if recovered is None else recovered - off
        self._notify("cell_done", cell, number, total, took)

    def _wait_recovered(self, removed: float) -> float | None:
        """The time the last journey was back within SLO for `settle` seconds, or None."""
        settings = self.settings
        deadline = removed + settings.recover_within
        # removed within the first moments of a second: that second is already recovery
        first = math.floor(removed) if removed % 1 < INJECT_AHEAD else math.ceil(removed)
        while True:
            self._check_load()
            now = self.clock()
            end = math.floor(now - FLUSHED)  # every second before it is in the samples file
            start = max(first, end - math.ceil(settings.settle))
            if end - start >= settings.settle and self._meets_slo(
                Window("settle", float(start), float(end))
            ):
                return float(start)
            if now >= deadline:
                return None
            self.sleep(POLL)

    def _restart(self) -> None:
        system = self.system
        if not isinstance(system, RunningSystem):
            raise GamedayError(
                "the system did not recover and an attached system cannot be restarted from "
                "here; restart it (gameday down && gameday up) and run the matrix again"
            )
        self.remove_all()
        for process in reversed(system.topology.processes):
            with contextlib.suppress(RuntimeFailure):
                system.kill(process.service, process.replica, restart=False)
        for process in system.topology.processes:
            system.start(process.service, process.replica)
        self._wait(self.settings.settle + 1.0)

    def _hostile(self) -> HostileLoad:
        from chaos.faults.hostile import HostileLoad  # schemathesis: imported only when used

        assert self.system is not None
        return HostileLoad(self.system.url(self.spec.public[0]), self.settings.hostile_input)

    def _touches_data(self, cell: Cell) -> bool:
        invariants = self.spec.invariants
        return invariants is not None and invariants.checked_after(
            cell.fault.kind if cell.fault is not None else cell.kind, cell.target.service
        )

    def _run_invariants(self, *, under_load: bool = False) -> InvariantResult:
        assert self.spec.invariants is not None and self.system is not None
        return run_invariants(
            self.spec.invariants, self.system, self.run_dir, under_load=under_load
        )

    def _rebaseline(self) -> None:
        """Give the attempts judged for the first time the quiet seconds nearest their fault
        windows as baseline (chaos.matrix.quiet.nearest); an attempt judged once keeps its
        baseline, so the verdict that asked for a second attempt is the one that stands."""
        parts = self.quiet.all(self.clock() - 1.0)  # seconds not flushed yet are left out
        new = {cell: runs[self.rebased.get(cell, 0) :] for cell, runs in self.attempts.items()}
        for cell, runs in rebaseline(new, parts, self.settings.baseline).items():
            self.attempts[cell] = self.attempts[cell][: self.rebased.get(cell, 0)] + runs
            self.rebased[cell] = len(self.attempts[cell])

    def _invariants(self) -> InvariantResult | None:
        return self._run_invariants() if self.spec.invariants is not None else None

    def judge(self) -> MatrixVerdict:
        """The verdict on every cell so far; the claims come from every quiet second's traces
        (the baseline and the seconds after each recovery: rare paths of a journey too)."""
        assert self.spec.slo is not None
        samples = read_run(self.run_dir / LOAD_DIR)
        self._derive_claims(samples, self.quiet.all(self.clock() - SPANS_EXPORTED))
        self._rebaseline()
        return judge_matrix(
            self.cells,
            self.claims,
            self.attempts,
            samples,
            self.spec.slo,
            self.settings,
            self.findings,
            entry_points=self.spec.public,
            steady_before=self.steady_before,
        )


def run_matrix(
    spec: SystemSpec,
    cells: list[Cell],
    *,
    run_dir: Path | None = None,
    observers: list[Observer] | None = None,
    write_outputs: Callable[[MatrixResult, Journal], list[Path]] | None = None,
    attach_to: Path | None = None,
    plan_only: bool = False,
) -> MatrixResult:
    """Run every cell of `cells` on one running system; never leaves a fault behind.

    With `plan_only` the run stops after the baseline: the claims of every cell are derived
    from the call graph (`MatrixResult.claims`) and nothing is injected.
    """
    check_runnable(spec)
    attached = attach_system(spec, attach_to) if attach_to is not None else None
    if attached is not None:
        cells = [_without_processes(c) for c in cells]
    run_dir = run_dir or new_run_dir(spec)
    began = time.monotonic()
    guard = RunGuard.start(run_dir)  # if this process dies, its watchdog cleans up
    with guard.until_started():
        matrix = _Matrix(
            spec,
            cells,
            run_dir,
            observers or [],
            attached,
            plan_only=plan_only,
            guarded_by=guard.fields,
        )
    result = MatrixResult(run_dir=run_dir, system=spec, cells=cells)
    if write_outputs is not None:
        matrix.journal.set(reported=False)  # until its outputs are written: Journal.unreported
    with matrix.signals:  # once the faults are going, signals are held: the record is whole
        try:
            try:
                invariants = matrix.execute()
            finally:
                matrix.cleanup()
            matrix.signals.hold("judging the matrix")
            result.claims, result.findings = matrix.claims, matrix.findings
            if plan_only:
                result.status, result.exit_code = "planned", 0 if matrix.steady_before else 3
                matrix.journal.finish("completed")
                result.call_graph = matrix.call_graph
                guard.release()
                return result
            verdict = matrix.judge()
            outcome = verdict.outcome
            if invariants is not None and not invariants.passed and outcome is Outcome.HELD:
                outcome = Outcome.INVARIANTS_VIOLATED
            result.status, result.verdict, result.invariants = "completed", verdict, invariants
            result.exit_code = outcome.exit_code
            matrix.journal.finish(
                "completed",
                deviated=bool(verdict.failed),
                verdict={"outcome": outcome.label, "exit_code": outcome.exit_code},
                invariants=invariants.to_json() if invariants else None,
            )
        except ENDINGS as exc:
            result.status, result.error, result.exit_code = ending(exc)
            matrix.journal.finish(result.status, error=result.error)
        except Exception as exc:  # a bug of ours: the faults are removed; say so, keep the outputs
            logger.exception("the matrix failed")
            error = f"internal error: {type(exc).__name__}: {exc} (a gameday bug; please report it)"
            result.status, result.error, result.exit_code = "failed", error, 2
            matrix.journal.finish("failed", error=error, traceback=traceback.format_exc())
        matrix.signals.hold("writing the matrix's report")
        result.call_graph = matrix.call_graph
        result.wall_seconds = time.monotonic() - began
        if write_outputs is not None:
            result.outputs = write_outputs(result, matrix.journal)
            matrix.journal.set(reported=True)
    guard.release()
    return result


def _without_processes(cell: Cell) -> Cell:
    if cell.runs and cell.fault is not None and cell.fault.is_process_fault:
        return Cell(
            cell.id,
            cell.target,
            cell.kind,
            None,
            cell.declared,
            skip="attached to `gameday up`: processes can only be killed or paused by the "
            "run that started them",
        )
    return cell
