"""`fault(target, kind, **attributes)`: a fault held for the length of a `with` block.

    with fault("payments", "down"):                        # every replica, every caller
        ...
    with fault("orders->payments", "latency", latency="1500ms"):   # one edge
        ...
    with fault("payments/1", "kill"):                      # one replica (a started system)
        ...

Targets are those of experiment files (`service`, `service/replica`, `caller->callee`), kinds
and attributes too (chaos.experiment.model.FAULT_KINDS, TOXIC_ATTRIBUTES; durations as
'1500ms', '1.5s' or a number of milliseconds). Everything is checked against the system
before anything is touched, and the fault goes through the session's journal like an
experiment's: written before it is applied, marked removed after. On leaving the block —
normally, on a failed assertion, an exception or Ctrl-C — it is removed; a Ctrl-C during the
removal waits until the removal is done. What a killed session left, `gameday rollback` undoes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from chaos.errors import ConfigInvalid, FaultInjectionError
from chaos.experiment.model import (
    FAULT_KINDS,
    PROCESS_KINDS,
    TOXIC_ATTRIBUTES,
    Fault,
    FaultKind,
    Stream,
)
from chaos.faults.actions import Action, plan_fault
from chaos.faults.injection import inject, remove
from chaos.faults.journal import LIVE_STATES
from chaos.system.model import SystemSpec, target_problem
from chaos.system.target import parse_target
from chaos.system.topology import Topology
from chaos.testing.signals import deferred_signals
from chaos.testing.system import SystemUnderTest
from chaos.yamldoc import suggest
from loadtests.units import parse_duration

MILLISECOND_ATTRIBUTES = frozenset({"latency", "jitter", "timeout"})

Note = Callable[[str], None]


def describe_call(target: str, kind: str, attributes: Mapping[str, object]) -> str:
    """`fault('payments', 'latency', latency='1500ms')`, as the test wrote it."""
    extra = "".join(f", {name}={value!r}" for name, value in attributes.items())
    return f"fault({target!r}, {kind!r}{extra})"


def make_fault(
    spec: SystemSpec,
    topology: Topology,
    target: str,
    kind: str,
    *,
    name: str,
    stream: str = "downstream",
    toxicity: float = 1.0,
    attributes: Mapping[str, object] | None = None,
) -> Fault:
    """The Fault a `fault(...)` call asks for; ConfigInvalid names the bad value and the fix."""
    __tracebackhide__ = True
    given = dict(attributes or {})
    call = describe_call(target, kind, given)
    try:
        parsed = parse_target(target)
    except ValueError as exc:
        raise ConfigInvalid(f"{call}: {exc}") from None
    replicas = sum(1 for p in topology.processes if p.service == parsed.service) or None
    problem = target_problem(spec, parsed, replicas)
    if problem:
        raise ConfigInvalid(f"{call}: target {target!r}: {problem} ({spec.source})")
    if kind not in FAULT_KINDS:
        raise ConfigInvalid(
            f"{call}: unknown fault kind {kind!r}{suggest(kind, FAULT_KINDS)}; "
            f"use one of {', '.join(FAULT_KINDS)}"
        )
    if kind in PROCESS_KINDS and parsed.kind == "edge":
        raise ConfigInvalid(
            f"{call}: {kind} acts on processes; target a service or a replica "
            f"(e.g. {parsed.service!r} or '{parsed.service}/0'), not an edge"
        )
    if stream not in ("upstream", "downstream"):
        raise ConfigInvalid(f"{call}: stream={stream!r} must be 'upstream' or 'downstream'")
    if not 0.0 <= toxicity <= 1.0:
        raise ConfigInvalid(f"{call}: toxicity={toxicity!r} must be between 0.0 and 1.0")
    kind_: FaultKind = kind  # type: ignore[assignment]  # checked against FAULT_KINDS above
    stream_: Stream = "upstream" if stream == "upstream" else "downstream"
    return Fault(
        name=name,
        target=parsed,
        kind=kind_,
        attributes=toxic_attributes(target, kind, given),
        stream=stream_,
        toxicity=float(toxicity),
        where="pytest " + call,
    )


def toxic_attributes(target: str, kind: str, given: Mapping[str, object]) -> dict[str, int]:
    """Toxiproxy's integer attributes of `kind`, defaults filled in (durations in ms)."""
    __tracebackhide__ = True
    call = describe_call(target, kind, given)
    known = TOXIC_ATTRIBUTES.get(kind, {})
    if given and not known:
        raise ConfigInvalid(f"{call}: {kind} takes no attributes; remove {', '.join(given)}")
    result: dict[str, int] = {}
    for name, value in given.items():
        if name not in known:
            raise ConfigInvalid(
                f"{call}: {kind} has no attribute {name!r}{suggest(name, known)}; "
                f"it takes {', '.join(known)}"
            )
        try:
            if name in MILLISECOND_ATTRIBUTES:
                result[name] = round(parse_duration(value, bare_unit="ms") * 1000)
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                result[name] = value
            else:
                raise ValueError(f"{value!r} is not a whole number >= 0")
        except ValueError as exc:
            raise ConfigInvalid(f"{call}: {name}: {exc}") from None
    for name, default in known.items():
        if name in result:
            continue
        if default is None:
            example = "1500ms" if name in MILLISECOND_ATTRIBUTES else 100
            raise ConfigInvalid(
                f"{call}: {kind} needs {name}=..., e.g. "
                f"{describe_call(target, kind, {**given, name: example})}"
            )
        result[name] = default
    return result


class ActiveFault:
    """One `fault(...)`: applied on entering the `with` block, removed on leaving it."""

    def __init__(self, faults: Faults, fault: Fault, actions: list[Action], call: str) -> None:
        self.faults = faults
        self.fault = fault
        self.actions = actions
        self.call = call
        self.index: int | None = None

    def __repr__(self) -> str:
        state = "planned" if self.index is None else "applied" if self.live else "removed"
        return f"<{self.call} {state}>"

    @property
    def live(self) -> bool:
        """True while the journal says the fault may be in place."""
        if self.index is None:
            return False
        return self.faults.system.journal.data["faults"][self.index]["state"] in LIVE_STATES

    def __enter__(self) -> ActiveFault:
        __tracebackhide__ = True
        if self.index is not None:
            raise FaultInjectionError(f"{self.call} was entered already; call fault(...) again")
        system = self.faults.system
        # Named when applied: the journal index makes the toxic's name unique in the session.
        number = len(system.journal.data["faults"]) + 1
        self.fault = dataclasses.replace(self.fault, name=f"pytest-{number}-{self.fault.kind}")
        self.actions = plan_fault(self.fault, system.topology)
        self.index = inject(system.journal, system.injector(), self.fault, self.actions)
        self.faults.applied(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        errors = self.faults.remove(self)
        if not errors:
            return
        message = (
            f"{self.call}: could not remove it: {'; '.join(errors)}; the journal "
            f"{self.faults.system.journal.path} lists it: `gameday rollback` undoes it"
        )
        if exc is None:
            raise FaultInjectionError(message)
        exc.add_note(message)


class Faults:
    """The `fault` fixture: `fault(target, kind, **attributes)` returns an ActiveFault."""

    def __init__(self, system: SystemUnderTest, *, note: Note | None = None) -> None:
        self.system = system
        self.note = note or (lambda line: None)
        self.entered: list[ActiveFault] = []

    def __repr__(self) -> str:
        return f"<fault helper of {self.system.spec.name!r}>"

    def __call__(
        self,
        target: str,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: Any,
    ) -> ActiveFault:
        """A fault on `target` (checked now, applied by `with`); see the module docstring."""
        __tracebackhide__ = True
        system = self.system
        call = describe_call(target, kind, attributes)
        topology = system.topology
        fault = make_fault(
            system.spec,
            topology,
            target,
            kind,
            name=f"pytest-{kind}",
            stream=stream,
            toxicity=toxicity,
            attributes=attributes,
        )
        if fault.is_process_fault and not system.owns:
            raise ConfigInvalid(
                f"{call}: {kind} acts on processes, which only a session that started the "
                "system can do and undo; drop --gameday-attach (or use a proxy fault)"
            )
        try:
            actions = plan_fault(fault, topology)
        except FaultInjectionError as exc:
            raise FaultInjectionError(f"{call}: {exc}") from None
        return ActiveFault(self, fault, actions, call)

    def applied(self, active: ActiveFault) -> None:
        """Record that `active` is in place."""
        self.entered.append(active)
        self.note(f"{active.call} applied: {', '.join(a.describe() for a in active.actions)}")

    def remove(self, active: ActiveFault) -> list[str]:
        """Remove `active` (signals wait until it is done); the errors."""
        assert active.index is not None
        with deferred_signals():
            errors = remove(self.system.journal, self.system.injector(), active.index)
        self.note(f"{active.call} {'NOT removed: ' + '; '.join(errors) if errors else 'removed'}")
        return errors

    def close(self) -> list[str]:
        """Remove what is still in place of this helper's faults (the fixture's teardown)."""
        errors: list[str] = []
        for active in reversed(self.entered):
            if active.live:
                errors += self.remove(active)
        return errors
