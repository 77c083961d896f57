"""Turning a fault into undoable actions, and applying and undoing them.

`plan_fault` is pure: a fault and the topology in, a list of `Action`s out. Each action is
small enough to be written to the journal before it is applied and undone from the journal
alone after a crash (`gameday rollback`):

| fault kind            | action per resolved proxy / process          | undo             |
|-----------------------|----------------------------------------------|------------------|
| latency, timeout, ... | add toxic `gameday-<fault>` to the proxy     | remove the toxic |
| down                  | disable the proxy (new connects refused)     | enable it        |
| kill                  | SIGKILL the replica's group, no restart      | start it again   |
| pause                 | SIGSTOP the replica's process group          | SIGCONT          |
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from chaos.errors import FaultInjectionError, ProxyError
from chaos.experiment.model import Fault
from chaos.proxy.client import ToxiproxyClient, ToxiproxyError
from chaos.system.topology import Topology, resolve_target

logger = logging.getLogger(__name__)

ActionKind = Literal["toxic", "disable", "kill", "pause"]
TOXIC_PREFIX = "gameday-"

# The Toxiproxy toxic type behind each fault kind that is a toxic.
TOXIC_TYPES = {
    "latency": "latency",
    "jitter": "latency",
    "timeout": "timeout",
    "reset_peer": "reset_peer",
    "bandwidth": "bandwidth",
    "slicer": "slicer",
    "limit_data": "limit_data",
}


@dataclass(frozen=True)
class Action:
    """One undoable step of a fault."""

    kind: ActionKind
    proxy: str | None = None
    toxic: str | None = None
    toxic_type: str | None = None
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] | None = None
    service: str | None = None
    replica: int | None = None
    pgid: int | None = None  # filled in when a process action is applied

    def describe(self) -> str:
        """`toxic gameday-x on orders.payments.0`, `kill payments/1`, ..."""
        if self.kind == "toxic":
            return f"{self.toxic_type} toxic {self.toxic} on {self.proxy}"
        if self.kind == "disable":
            return f"disable proxy {self.proxy}"
        return f"{self.kind} {self.service}/{self.replica}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (for the journal)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Action:
        """The inverse of to_json."""
        return cls(**data)


def plan_fault(fault: Fault, topology: Topology) -> list[Action]:
    """The actions that apply `fault` to `topology` (pure)."""
    resolved = resolve_target(topology, str(fault.target))
    if fault.kind in ("kill", "pause"):
        return [
            Action(fault.kind, service=p.service, replica=p.replica) for p in resolved.processes
        ]
    if not resolved.proxies:
        raise FaultInjectionError(
            f"fault {fault.name!r}: {fault.target} has no proxy in front of it (is it a public "
            "entry point?); target its dependencies or use kill/pause"
        )
    if fault.kind == "down":
        return [Action("disable", proxy=p.name) for p in resolved.proxies]
    return [
        Action(
            "toxic",
            proxy=p.name,
            toxic=TOXIC_PREFIX + fault.name,
            toxic_type=TOXIC_TYPES[fault.kind],
            stream=fault.stream,
            toxicity=fault.toxicity,
            attributes=dict(fault.attributes),
        )
        for p in resolved.proxies
    ]


class Processes(Protocol):
    """What the injector needs from a running system to act on processes."""

    def pid(self, service: str, replica: int = 0) -> int | None: ...
    def kill(self, service: str, replica: int = 0, *, restart: bool = True) -> None: ...
    def start(self, service: str, replica: int = 0, *, timeout: float | None = None) -> None: ...
    def pause(self, service: str, replica: int = 0) -> None: ...
    def resume(self, service: str, replica: int = 0) -> None: ...


class Injector:
    """Applies and undoes actions through Toxiproxy and the running system."""

    def __init__(self, toxiproxy: ToxiproxyClient | None, processes: Processes | None) -> None:
        self._toxiproxy = toxiproxy
        self.processes = processes

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        """The Toxiproxy client (there is none when rolling back without a proxy server)."""
        if self._toxiproxy is None:
            raise FaultInjectionError("no Toxiproxy API to act on proxies")
        return self._toxiproxy

    def _need_processes(self, action: Action) -> Processes:
        if self.processes is None:
            raise FaultInjectionError(
                f"cannot {action.describe()}: processes can only be killed or paused in a "
                "system gameday started (not one it attached to)"
            )
        return self.processes

    def apply(self, action: Action) -> Action:
        """Apply one action; returns it completed (with the process group, for undo)."""
        try:
            if action.kind == "toxic":
                assert action.proxy and action.toxic and action.toxic_type
                self.toxiproxy.add_toxic(
                    action.proxy,
                    action.toxic_type,
                    name=action.toxic,
                    stream=action.stream,
                    toxicity=action.toxicity,
                    attributes=action.attributes,
                )
            elif action.kind == "disable":
                assert action.proxy
                self.toxiproxy.disable(action.proxy)
            else:
                processes = self._need_processes(action)
                assert action.service is not None and action.replica is not None
                pid = processes.pid(action.service, action.replica)
                completed = Action(**{**asdict(action), "pgid": pid})
                if action.kind == "kill":
                    processes.kill(action.service, action.replica, restart=False)
                else:
                    processes.pause(action.service, action.replica)
                return completed
        except ProxyError as exc:
            raise FaultInjectionError(f"could not {action.describe()}: {exc}") from exc
        return action

    def undo(self, action: Action) -> None:
        """Undo one action; already undone (toxic gone, proxy enabled) counts as done."""
        try:
            if action.kind == "toxic":
                assert action.proxy and action.toxic
                try:
                    self.toxiproxy.remove_toxic(action.proxy, action.toxic)
                except ToxiproxyError as exc:
                    if exc.status != 404:
                        raise
            elif action.kind == "disable":
                assert action.proxy
                self.toxiproxy.enable(action.proxy)
            elif self.processes is not None:
                assert action.service is not None and action.replica is not None
                if action.kind == "kill":
                    self.processes.start(action.service, action.replica)
                else:
                    self.processes.resume(action.service, action.replica)
            elif action.kind == "pause" and action.pgid:
                # After a crash there is no supervisor: continue the group directly.
                _signal_group(action.pgid, signal.SIGCONT)
        except ProxyError as exc:
            raise FaultInjectionError(f"could not undo {action.describe()}: {exc}") from exc


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
