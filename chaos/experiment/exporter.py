"""What an experiment is doing, as Prometheus metrics: the phase and the active faults.

    exporter = ExperimentExporter.start("payments-down", targets_dir, system="shop")
    exporter.phase("baseline", ends_at)         # an Observer of the run
    exporter.fault(fault, "applied")            # gameday_fault_active{target,kind} = 1
    exporter.close()                            # stops serving, removes its file_sd target

`gameday_experiment_phase{experiment, phase}` is 1 for the current phase (warm-up, baseline,
fault, recovery, judging) and 0 for the others; `gameday_fault_active{experiment, target,
kind}` is 1 while a fault is applied. The game-day board draws both as state timelines and
annotations. The exporter serves them on a free loopback port and registers itself in the
runtime Prometheus' extra file_sd directory (`prometheus/extra/experiment.json`).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from chaos.experiment.model import Fault
from chaos.net import LOOPBACK, free_port
from loadtests.windows import SampleSet

SERVICE = "gameday-experiment"
PHASES = ("warm-up", "baseline", "fault", "recovery", "judging")


class ExperimentExporter:
    """Gauges of one run's phase and faults, served over HTTP while the run lasts."""

    def __init__(self, experiment: str, registry: CollectorRegistry) -> None:
        self.experiment = experiment
        self.registry = registry
        self._phase = Gauge(
            "gameday_experiment_phase",
            "1 for the experiment's current phase, 0 for the others.",
            ("experiment", "phase"),
            registry=registry,
        )
        self._faults = Gauge(
            "gameday_fault_active",
            "1 while the fault on target of this kind is applied.",
            ("experiment", "target", "kind"),
            registry=registry,
        )
        for phase in PHASES:
            self._phase.labels(experiment, phase).set(0)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._target_file: Path | None = None
        self.url: str | None = None

    @classmethod
    def start(cls, experiment: str, targets_dir: Path, *, system: str) -> ExperimentExporter:
        """Serve on a free loopback port and register as a file_sd target in `targets_dir`."""
        exporter = cls(experiment, CollectorRegistry())
        port = free_port()
        exporter._server, exporter._thread = start_http_server(
            port, addr=LOOPBACK, registry=exporter.registry
        )
        exporter.url = f"http://{LOOPBACK}:{port}"
        targets_dir.mkdir(parents=True, exist_ok=True)
        group = {
            "targets": [f"{LOOPBACK}:{port}"],
            "labels": {"system": system, "service": SERVICE, "replica": "0"},
        }
        path = targets_dir / "experiment.json"
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps([group], indent=2) + "\n")
        scratch.replace(path)
        exporter._target_file = path
        return exporter

    def __repr__(self) -> str:
        return f"ExperimentExporter({self.experiment!r}, url={self.url!r})"

    # -- Observer -------------------------------------------------------------------------
    def phase(self, name: str, ends_at: float) -> None:
        """Mark `name` as the current phase."""
        for phase in PHASES:
            self._phase.labels(self.experiment, phase).set(1 if phase == name else 0)

    def fault(self, fault: Fault, state: str) -> None:
        """1 while applied, 0 once removed."""
        active = self._faults.labels(self.experiment, str(fault.target), fault.kind)
        active.set(1 if state == "applied" else 0)

    def tick(self, samples: SampleSet, now: float) -> None:
        """Nothing: Prometheus pulls."""

    def close(self) -> None:
        """Stop serving and unregister."""
        if self._target_file is not None:
            self._target_file.unlink(missing_ok=True)
            self._target_file = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
