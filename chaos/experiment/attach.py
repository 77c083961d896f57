"""Running an experiment against the system `gameday up` keeps running (`gameday run --attach`).

The run then does not own the system: it reads the addresses from the run's topology.json,
drives faults through the recorded Toxiproxy API, and leaves every process running. Only
proxy faults are possible (killing or pausing a replica needs the process control of the run
that started it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import GamedayError
from chaos.experiment.model import Experiment
from chaos.proxy.client import ToxiproxyClient
from chaos.runtime.state import STATE_FILE, read_state, supervisor_alive
from chaos.system.model import SystemSpec, load_system
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


def attach_system(spec: SystemSpec, state_file: Path = STATE_FILE) -> AttachedSystem:
    """The system `gameday up` runs, checked to be the one `spec` describes."""
    state = read_state(state_file)
    if state is None or not supervisor_alive(state):
        raise GamedayError(
            f"--attach: no running `gameday up` ({state_file} missing or its supervisor gone); "
            "start one with `gameday up`, or drop --attach to let the run start the system"
        )
    if Path(state["system_file"]).resolve() != Path(spec.source).resolve():
        raise GamedayError(
            f"--attach: `gameday up` runs {state['system_file']}, not {spec.source}; start that "
            "system or drop --attach"
        )
    topology = Topology.from_json(
        json.loads((Path(state["run_dir"]) / "topology.json").read_text())
    )
    return AttachedSystem(
        topology,
        ToxiproxyClient(state["toxiproxy"]),
        prometheus_url=state.get("prometheus"),
        run_dir=Path(state["run_dir"]),
    )


def attach(experiment: Experiment, state_file: Path = STATE_FILE) -> AttachedSystem:
    """The system `gameday up` runs, checked to be the experiment's and able to take it."""
    process_faults = [f.name for f in experiment.faults if f.is_process_fault]
    if process_faults:
        raise GamedayError(
            f"--attach: faults {process_faults} kill or pause processes, which only a run that "
            "started the system can do (and undo); drop --attach"
        )
    system = attach_system(load_system(experiment.system), state_file)
    topology = system.topology
    for service, count in experiment.replicas.items():
        if len(topology.replicas(service)) != count:
            raise GamedayError(
                f"--attach: the experiment wants {count} replica(s) of {service}, `gameday up` "
                f"runs {len(topology.replicas(service))}; restart it with --replicas "
                f"{service}={count} or drop --attach"
            )
    return system
