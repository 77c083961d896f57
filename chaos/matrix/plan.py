"""The plan of a fault-isolation matrix: which cells (target x fault kind) to run. Pure.

    cells = plan_cells(spec, kinds=("down", "latency"), only=None)

Targets are every service and every infrastructure component, replica 0 of every service
that runs more than one replica, every edge `caller->callee`, and the entry points (for
hostile input). Each cell is one injection:

| kind          | targets            | what is injected                                        |
|---------------|--------------------|---------------------------------------------------------|
| down          | service, edge      | the proxies in front of it refuse connections; a service |
|               |                    | nothing calls through a proxy is killed instead         |
| latency       | service, edge      | `matrix.latency` on every answer: beyond the timeouts   |
| slow          | service            | `matrix.slow`: a gray failure, under the timeouts       |
| reset_peer    | service, edge      | connections are reset (TCP RST)                         |
| pause         | replica            | SIGSTOP of one replica (connections hang)               |
| kill          | replica            | SIGKILL of one replica, started again afterwards        |
| hostile_input | entry point        | API fuzzing of its OpenAPI document (chaos.faults.hostile) |

An edge into a service that has only that one caller is the same injection as the service
(the same proxies): the cell is planned once and the edge is reported `same as` it. Every
expectation declared in the system file gets its cell even when its kind is not in the set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.errors import ConfigInvalid
from chaos.experiment.model import Fault
from chaos.system.model import MATRIX_FAULTS, Expectation, SystemSpec
from chaos.system.target import FaultTarget, parse_target
from chaos.yamldoc import suggest

SERVICE_KINDS = ("down", "latency", "slow", "reset_peer")
EDGE_KINDS = ("down", "latency", "reset_peer")
REPLICA_KINDS = ("pause", "kill")
ENTRY_KINDS = ("hostile_input",)
PROXY_KINDS = ("down", "latency", "slow", "reset_peer")  # act on the proxies in front


@dataclass(frozen=True)
class Cell:
    """One injection of the matrix, or a cell that is not run (`skip`) or run elsewhere."""

    id: str  # "payments:down", "orders->payments:latency", "payments/0:kill"
    target: FaultTarget
    kind: str
    fault: Fault | None  # what is injected; None for hostile input and skipped cells
    declared: Expectation | None = None  # the system file's expectation for this cell
    skip: str | None = None  # why the cell is not run
    same_as: str | None = None  # the cell whose injection this one is

    @property
    def runs(self) -> bool:
        """True when the cell is injected itself (not skipped, not the same as another)."""
        return self.skip is None and self.same_as is None

    @property
    def kills(self) -> bool:
        """True when the cell kills a process (the invariants are checked after it)."""
        return self.fault is not None and self.fault.kind == "kill"


def cell_id(target: FaultTarget, kind: str) -> str:
    """`<target>:<kind>`, e.g. `orders->payments:latency`."""
    return f"{target}:{kind}"


def parse_kinds(text: str) -> tuple[str, ...]:
    """`down,latency` -> ("down", "latency"); ConfigInvalid names an unknown kind."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    if not kinds:
        raise ConfigInvalid(f"--faults {text!r} names no fault kind; write e.g. down,latency")
    for kind in kinds:
        if kind not in MATRIX_FAULTS:
            raise ConfigInvalid(
                f"--faults: {kind!r} is not a fault kind of the matrix"
                f"{suggest(kind, MATRIX_FAULTS)}; the kinds are {', '.join(MATRIX_FAULTS)}"
            )
    return kinds


def plan_cells(
    spec: SystemSpec,
    *,
    kinds: Sequence[str] | None = None,
    only: str | None = None,
    replicas: dict[str, int] | None = None,
) -> list[Cell]:
    """Every cell of the matrix of `spec`, in the order they run.

    `kinds` defaults to the system file's `matrix.faults`; `only` keeps the cells whose target
    is, or involves, that service, replica or edge.
    """
    chosen = tuple(kinds) if kinds is not None else spec.matrix.faults
    counts = {n: (replicas or {}).get(n, c.replicas) for n, c in spec.components.items()}
    cells: dict[str, Cell] = {}

    def add(target: FaultTarget, kind: str) -> None:
        key = cell_id(target, kind)
        if key not in cells:
            cells[key] = _cell(spec, target, kind, counts)

    for name in spec.components:
        for kind in SERVICE_KINDS:
            if kind in chosen:
                add(FaultTarget("service", name), kind)
    for name in spec.services:
        if counts[name] > 1:
            for kind in REPLICA_KINDS:
                if kind in chosen:
                    add(FaultTarget("replica", name, replica=0), kind)
    for caller in spec.services.values():
        for callee in caller.depends_on:
            for kind in EDGE_KINDS:
                if kind in chosen:
                    add(FaultTarget("edge", callee, caller=caller.name), kind)
    if "hostile_input" in chosen:
        for name in spec.public:
            add(FaultTarget("service", name), "hostile_input")
    for expectation in spec.expectations:
        add(expectation.fault.target, expectation.fault.kind)
    planned = [_declare(spec, cell) for cell in cells.values()]
    if only is not None:
        planned = _only(planned, only, spec)
    return planned


def _cell(spec: SystemSpec, target: FaultTarget, kind: str, counts: dict[str, int]) -> Cell:
    key = cell_id(target, kind)
    callers = spec.callers(target.service)
    if kind == "hostile_input":
        return Cell(key, target, kind, None)
    if target.kind == "edge" and len(callers) == 1 and kind in PROXY_KINDS:
        service = cell_id(FaultTarget("service", target.service), kind)
        return Cell(key, target, kind, _fault(spec, key, target, kind, counts), same_as=service)
    if kind in PROXY_KINDS and not callers:
        if kind == "down":  # nothing calls it through a proxy: down means not running
            return Cell(key, target, kind, _fault(spec, key, target, "kill", counts))
        return Cell(
            key,
            target,
            kind,
            None,
            skip=f"no service calls {target.service} through a proxy: a {kind} fault has "
            "nothing to act on",
        )
    return Cell(key, target, kind, _fault(spec, key, target, kind, counts))


def _fault(
    spec: SystemSpec, name: str, target: FaultTarget, kind: str, counts: dict[str, int]
) -> Fault:
    settings = spec.matrix
    fault_name = "matrix-" + "".join(c if c.isalnum() else "-" for c in name)
    if kind == "latency":
        return Fault(fault_name, target, "latency", {"latency": settings.latency_ms, "jitter": 0})
    if kind == "slow":
        return Fault(fault_name, target, "latency", {"latency": settings.slow_ms, "jitter": 0})
    if kind == "reset_peer":
        return Fault(fault_name, target, "reset_peer", {"timeout": 0})
    if kind in ("down", "kill", "pause"):
        return Fault(fault_name, target, kind)  # type: ignore[arg-type]
    raise ConfigInvalid(f"{name}: the matrix cannot inject {kind!r}")


def _declare(spec: SystemSpec, cell: Cell) -> Cell:
    for expectation in spec.expectations:
        if expectation.fault.target == cell.target and expectation.fault.kind == cell.kind:
            return Cell(
                cell.id,
                cell.target,
                cell.kind,
                cell.fault,
                declared=expectation,
                skip=cell.skip,
                same_as=cell.same_as,
            )
    return cell


def _only(cells: list[Cell], only: str, spec: SystemSpec) -> list[Cell]:
    try:
        wanted = parse_target(only)
    except ValueError as exc:
        raise ConfigInvalid(f"--only: {exc}") from None
    if wanted.service not in spec.components:
        raise ConfigInvalid(
            f"--only {only!r}: {wanted.service!r} is not a service of {spec.name}"
            f"{suggest(wanted.service, spec.components)}"
        )

    def keep(cell: Cell) -> bool:
        if wanted.kind == "service":
            return wanted.service in (cell.target.service, cell.target.caller)
        return cell.target == wanted

    kept = [c for c in cells if keep(c)]
    if not kept:
        raise ConfigInvalid(f"--only {only!r} keeps no cell of the matrix")
    ids = {c.id for c in kept}
    # a kept cell that is the same as a dropped one runs itself
    return [
        Cell(c.id, c.target, c.kind, c.fault, c.declared, c.skip, None)
        if c.same_as is not None and c.same_as not in ids
        else c
        for c in kept
    ]
