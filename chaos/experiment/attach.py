"""Running an experiment against the system `gameday up` keeps running (`gameday run --attach`).

The run then does not own the system: it reads the addresses from the run's topology.json,
drives faults through the recorded Toxiproxy API, and leaves every process running. Only
proxy faults are possible (killing or pausing a replica needs the process control of the run
that started it).

Without --attach, `choose` attaches all the same when `gameday up` runs the experiment's own
system and the experiment fits it, and says so; when it does not fit, the run is refused with
the commands to use: a second copy of a running system is never started silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.errors import GamedayError
from chaos.experiment.model import Experiment
from chaos.proxy.client import ToxiproxyClient
from chaos.runtime.state import STATE_FILE, read_state, supervisor_alive
from chaos.system.model import SystemSpec
from chaos.system.topology import Topology


@dataclass
class AttachedSystem:
    """A system `gameday up` is running: addresses and the fault proxy, no process control."""

    topology: Topology
    toxiproxy: ToxiproxyClient
    prometheus_url: str | None = None
    run_dir: Path | None = None

    @property
    def toxiproxy_url(self) -> str:
        """Base URL of the fault proxy's API."""
        return self.toxiproxy.url

    def url(self, service: str, replica: int = 0) -> str:
        """Direct base URL of one replica."""
        return self.topology.process(service, replica).url

    def urls(self, service: str) -> list[str]:
        """Direct base URLs of every replica of a service."""
        return [p.url for p in self.topology.replicas(service)]


def attach_problem(experiment: Experiment, state: dict[str, Any]) -> str | None:
    """Why `experiment` cannot run against the system a live `gameday up` state describes."""
    if Path(state["system_file"]).resolve() != experiment.system.resolve():
        return (
            f"`gameday up` runs {state['system_file']}, but {experiment.path.name} is for "
            f"{experiment.system}"
        )
    process_faults = [f.name for f in experiment.faults if f.is_process_fault]
    if process_faults:
        return (
            f"faults {process_faults} kill or pause processes, which only a run that started "
            "the system can do (and undo)"
        )
    topology = _topology(state)
    for service, count in experiment.replicas.items():
        if len(topology.replicas(service)) != count:
            return (
                f"the experiment wants {count} replica(s) of {service}, `gameday up` runs "
                f"{len(topology.replicas(service))} (`gameday up --replicas {service}={count}` "
                "would match)"
            )
    return None


def _topology(state: dict[str, Any]) -> Topology:
    return Topology.from_json(json.loads((Path(state["run_dir"]) / "topology.json").read_text()))


def _live_state(state_file: Path) -> dict[str, Any] | None:
    state = read_state(state_file)
    return state if state is not None and supervisor_alive(state) else None


def attach(experiment: Experiment, state_file: Path = STATE_FILE) -> AttachedSystem:
    """The system `gameday up` runs, checked to be the experiment's and able to take it."""
    state = _live_state(state_file)
    if state is None:
        raise GamedayError(
            f"--attach: no running `gameday up` ({state_file} missing or its supervisor gone); "
            "start one with `gameday up`, or drop --attach to let the run start the system"
        )
    problem = attach_problem(experiment, state)
    if problem is not None:
        raise GamedayError(f"--attach: {problem}; drop --attach to let the run start its own")
    return _attached(state)


def attach_system(spec: SystemSpec, state_file: Path = STATE_FILE) -> AttachedSystem:
    """The system `gameday up` runs, checked to be the one `spec` describes (the matrix)."""
    state = _live_state(state_file)
    if state is None:
        raise GamedayError(
            f"--attach: no running `gameday up` ({state_file} missing or its supervisor gone); "
            "start one with `gameday up`, or drop --attach to let the run start the system"
        )
    if Path(state["system_file"]).resolve() != Path(spec.source).resolve():
        raise GamedayError(
            f"--attach: `gameday up` runs {state['system_file']}, not {spec.source}; start that "
            "system or drop --attach"
        )
    return _attached(state)


def _attached(state: dict[str, Any]) -> AttachedSystem:
    return AttachedSystem(
        _topology(state),
        ToxiproxyClient(state["toxiproxy"]),
        prometheus_url=state.get("prometheus"),
        run_dir=Path(state["run_dir"]),
    )


@dataclass(frozen=True)
class Choice:
    """Whether a run attaches to the running `gameday up`, and what to tell the user."""

    attach: bool
    note: str | None = None


def choose(experiment: Experiment, state_file: Path, *, asked: bool) -> Choice:
    """Attach when asked; also when `gameday up` runs this very system and the experiment
    fits it (never a silent second copy of a running system); refuse when it does not fit.

    Raises GamedayError with the commands to use instead.
    """
    if asked:
        attach(experiment, state_file)  # raises with the reason
        return Choice(True)
    state = _live_state(state_file)
    if state is None:
        return Choice(False)
    pid = state["supervisor"]["pid"]
    up = f"`gameday up` runs {state.get('system')} here (supervisor pid {pid})"
    if Path(state["system_file"]).resolve() != experiment.system.resolve():
        return Choice(False, f"note: {up}; {experiment.name} starts its own {experiment.system}")
    problem = attach_problem(experiment, state)
    if problem is not None:
        raise GamedayError(
            f"{up}, and {experiment.name} cannot run against it: {problem}. Stop it first "
            f"with `gameday down`, then run `gameday run {experiment.path}` again; a second "
            "copy of the system would double the load on this machine"
        )
    return Choice(
        True,
        f"{up}: attaching to it (faults go to its fault proxy {state['toxiproxy']}; it keeps "
        "running afterwards). `gameday down` first to let the run start a system of its own.",
    )
