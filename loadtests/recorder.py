"""The Locust listener that turns request events into per-second samples and an SLO verdict.

In each process it counts every request event into (journey, second) samples. A worker
sends its samples to the master with its regular stats report (`report_to_master`, every
3 s, and a last one when it quits); the master (or the single local process) merges them
and appends them to <run dir>/samples.jsonl four times a second. When Locust quits, the master
reads the file back, evaluates the SLO file and, on a breach, sets
`environment.process_exit_code = 99`, which the stock `locust` command exits with.

A request's journey is `context["journey"]` when set, else its name; its second is the
intended start (open-model users), else its start.
Imports Locust: load processes only.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust import log as locust_log
from locust.env import Environment
from locust.runners import (
    STATE_RUNNING,
    STATE_SPAWNING,
    LocalRunner,
    MasterRunner,
    WorkerRunner,
)

from chaos.judgement.slo import evaluate
from loadtests.errors import LoadtestError
from loadtests.openmodel import arrival_dropped_hook
from loadtests.options import GamedayOptions, from_namespace
from loadtests.samples import (
    SAMPLES_FILE,
    Sample,
    SampleAccumulator,
    SamplesWriter,
    failure_kind,
)
from loadtests.slo import load_slo
from loadtests.windows import SampleSet, read_samples

logger = logging.getLogger(__name__)

REPORT_KEY = "gameday_samples"
VERDICT_FILE = "slo-verdict.json"
RUN_FILE = "load.json"
FLUSH_INTERVAL = 0.25  # a second is in the file soon after it ends (recovery checks)


def journey_of(name: str, context: object) -> str:
    """The journey of a request: context['journey'] when it is a string, else its name."""
    if isinstance(context, dict):
        journey = context.get("journey")
        if isinstance(journey, str) and journey:
            return journey
    return name


def trace_ids_of(context: object) -> tuple[str, ...]:
    """The sampled trace ids a request (`trace_id`) or an open-model arrival (`trace_ids`) had."""
    if not isinstance(context, dict):
        return ()
    single = context.get("trace_id")
    many = context.get("trace_ids")
    found = [single] if isinstance(single, str) else []
    if isinstance(many, list):
        found += [t for t in many if isinstance(t, str)]
    return tuple(found)


def start_of(response_time: float | None, context: object, start_time: object, now: float) -> float:
    """Unix time a request started: intended start, else its start_time, else now - latency."""
    if isinstance(context, dict) and isinstance(context.get("intended_start"), int | float):
        return float(context["intended_start"])
    if isinstance(start_time, int | float) and not isinstance(start_time, bool):
        return float(start_time)
    return now - (response_time or 0.0) / 1000.0


class Recorder:
    """Collects samples in one Locust process and, on the master, writes and judges them."""

    def __init__(self, environment: Environment, options: GamedayOptions) -> None:
        self.environment = environment
        self.options = options
        self.accumulator = SampleAccumulator()
        self.is_worker = isinstance(environment.runner, WorkerRunner)
        self.writer: SamplesWriter | None = None
        self._flusher: gevent.Greenlet | None = None
        self._started: float | None = None

    @property
    def samples_path(self) -> Path:
        """Where the samples go: <run dir>/samples.jsonl."""
        return self.options.run_dir / SAMPLES_FILE

    @classmethod
    def attach(cls, environment: Environment) -> Recorder:
        """Create a recorder for `environment` and subscribe it to Locust's events."""
        recorder = cls(environment, from_namespace(environment.parsed_options))
        events = environment.events
        events.request.add_listener(recorder.on_request)
        arrival_dropped_hook(environment).add_listener(recorder.on_dropped)
        if recorder.is_worker:
            events.report_to_master.add_listener(recorder.on_report_to_master)
        else:
            events.worker_report.add_listener(recorder.on_worker_report)
            events.test_start.add_listener(recorder.on_test_start)
            events.quitting.add_listener(recorder.on_quitting)
        return recorder

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        start_time: float | None = None,
        response: object = None,
        **_: Any,
    ) -> None:
        """Count one request event."""
        now = time.time()
        second = int(start_of(response_time, context, start_time, now))
        late = bool(context.get("late")) if isinstance(context, dict) else False
        self.accumulator.record(
            journey_of(name, context),
            second,
            response_time,
            failed=exception is not None,
            late=late,
            error=failure_kind(exception, response) if exception is not None else None,
            trace_ids=trace_ids_of(context),
        )

    def on_dropped(self, journey: str, intended_start: float, **_: Any) -> None:
        """Count one open-model arrival dropped unsent."""
        self.accumulator.record_dropped(journey, int(intended_start))

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        """Worker: ship the samples gathered since the last report."""
        data[REPORT_KEY] = [sample.to_line() for sample in self.accumulator.drain()]

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        """Master: merge a worker's samples."""
        for line in data.get(REPORT_KEY, []):
            self.accumulator.add(Sample.from_line(line, where=f"worker {client_id}"))

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        """Master/local: open the samples file and start flushing (FLUSH_INTERVAL)."""
        self._started = self._started or time.time()
        self._open()
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_forever)
        logger.info("gameday: samples -> %s", self.samples_path)

    def flush(self) -> int:
        """Append pending samples to the file; return how many were written."""
        return self._open().write(self.accumulator.drain())

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        """Master/local: write the last samples, report, judge the SLO, set the exit code."""
        self._stop_load(environment)
        if self._flusher is not None:
            self._flusher.kill(block=True)
            self._flusher = None
        self.flush()
        self._open().close()
        samples = read_samples(self.samples_path)
        logger.info("gameday: load summary\n%s", summary(samples))
        self._write_json(RUN_FILE, self._run_info())
        if self.options.slo is None:
            return
        try:
            verdict = evaluate(load_slo(self.options.slo), samples)
        except LoadtestError as exc:
            logger.error("gameday: cannot evaluate the SLO: %s", exc)
            environment.process_exit_code = 2
            return
        self._write_json(VERDICT_FILE, verdict.to_json())
        if verdict.passed:
            logger.info("gameday: %s", verdict.format())
            # with an SLO file the thresholds decide about failed requests (error_rate);
            # errors of the locustfile itself still fail the run
            if not environment.runner or not (
                environment.runner.exceptions or locust_log.unhandled_greenlet_exception
            ):
                environment.process_exit_code = 0
        else:
            logger.error("gameday: %s", verdict.format())
            environment.process_exit_code = verdict.exit_code

    @staticmethod
    def _stop_load(environment: Environment) -> None:
        # On SIGTERM Locust fires `quitting` before stopping the runner: stop it first so that
        # no request lands after the last flush and workers send their final samples.
        runner = environment.runner
        if isinstance(runner, MasterRunner) and runner.clients.all:
            runner.quit()
        elif isinstance(runner, LocalRunner) and runner.state in (STATE_SPAWNING, STATE_RUNNING):
            runner.stop()

    def _open(self) -> SamplesWriter:
        if self.writer is None or self.writer.closed:
            self.writer = SamplesWriter(self.samples_path)
        return self.writer

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL)
            try:
                self.flush()
            except OSError as exc:  # a full disk must not stop the load; say so and go on
                logger.error("gameday: cannot write %s: %s", self.samples_path, exc)

    def _run_info(self) -> dict[str, Any]:
        return {
            "started": self._started,
            "stopped": time.time(),
            "host": self.environment.host,
            "locustfile": self.environment.locustfile,
            "shape": self.options.shape,
            "samples": SAMPLES_FILE,
            "slo": str(self.options.slo) if self.options.slo else None,
        }

    def _write_json(self, name: str, data: dict[str, Any]) -> None:
        path = self.options.run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def summary(samples: SampleSet) -> str:
    """One line per journey: requests, failures, dropped, offered vs achieved rate, latency."""
    lines = []
    for journey in samples.journeys:
        s = samples.stats(journey)
        latency = " ".join(_percentile(s.percentile_ms(q), q) for q in (50, 95, 99))
        lines.append(
            f"  {journey}: {s.count} requests, {s.failures} failed, {s.dropped} dropped, "
            f"{s.late} late; offered {s.offered_rate:.2f}/s, achieved {s.throughput:.2f}/s; "
            f"{latency}"
        )
    return "\n".join(lines) or "  no requests"


def _percentile(value: float | None, q: int) -> str:
    return f"p{q}={value:.1f}ms" if value is not None else f"p{q}=-"
