"""Reading an experiment file into `chaos.experiment.model.Experiment`, every error at file:line.

    experiment = load_experiment("sample_system/experiments/payments-down.yaml")

The format is documented in docs/experiments.md and in `chaos.experiment.model`'s docstring.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chaos.errors import ExperimentInvalid
from chaos.experiment.model import (
    FAULT_KINDS,
    PROCESS_KINDS,
    RECOVERY_SETTLE_S,
    TOXIC_ATTRIBUTES,
    AutoscalingClaim,
    Degraded,
    Experiment,
    Fault,
    Hypothesis,
    Schedule,
    Stream,
)
from chaos.system.sections import read_invariants, read_load, read_path
from chaos.system.target import FaultTarget, parse_target
from chaos.yamldoc import Entry, YamlDoc, suggest
from loadtests.units import parse_duration, parse_ratio


def load_experiment(path: Path | str) -> Experiment:
    """Read and validate an experiment file (not yet against its system)."""
    doc = YamlDoc.load(path, ExperimentInvalid, "experiment file")
    return _Reader(doc, Path(path).resolve()).experiment()


def parse_experiment(text: str, *, path: Path) -> Experiment:
    """Validate experiment YAML `text` as if read from `path` (relative paths resolve there)."""
    return _Reader(YamlDoc.parse(text, str(path), ExperimentInvalid), path.resolve()).experiment()


# Attributes given as durations in the file, converted to Toxiproxy's milliseconds.
_MILLISECONDS = {"latency", "jitter", "timeout"}
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_TOP = (
    "name",
    "description",
    "system",
    "replicas",
    "load",
    "schedule",
    "faults",
    "hypothesis",
    "invariants",
    "autoscaling",
)


class _Reader:
    def __init__(self, doc: YamlDoc, path: Path) -> None:
        self.doc = doc
        self.file = path
        self.base = path.parent

    def experiment(self) -> Experiment:
        doc = self.doc
        top = doc.mapping(
            doc.root,
            "the experiment",
            allowed=_TOP,
            required=("name", "system", "load", "schedule", "hypothesis"),
            example="name: payments-down",
        )
        autoscaling = self.autoscaling(top["autoscaling"].value) if "autoscaling" in top else None
        if "faults" not in top and autoscaling is None:
            raise doc.fail(
                doc.root, "the experiment needs 'faults', e.g. [{target: ..., kind: down}]"
            )
        name = doc.string(top["name"].value, "name", "payments-down")
        if not _NAME.match(name):
            raise doc.fail(top["name"].value, f"name {name!r} must match [a-z][a-z0-9_-]*")
        faults = tuple(
            self.fault(node, index)
            for index, node in enumerate(
                doc.sequence(top["faults"].value, "faults", "[{target: {service: x}, kind: down}]")
                if "faults" in top
                else ()
            )
        )
        if not faults and autoscaling is None:
            raise doc.fail(top["faults"].value, "faults is empty; list at least one fault")
        names = [f.name for f in faults]
        for fault in faults:
            if names.count(fault.name) > 1:
                raise ExperimentInvalid(f"{fault.where}: fault name {fault.name!r} is used twice")
        schedule = self.schedule(top["schedule"].value)
        hypothesis = self.hypothesis(top["hypothesis"].value)
        _check_recovery_window(doc, top["hypothesis"].value, schedule, hypothesis)
        return Experiment(
            name=name,
            path=self.file,
            description=(
                doc.string(top["description"].value, "description", "'...'")
                if "description" in top
                else ""
            ),
            system=read_path(doc, top["system"].value, self.base, "system", "../system.yaml"),
            replicas=self.replicas(top["replicas"].value) if "replicas" in top else {},
            load=read_load(doc, top["load"].value, self.base),
            schedule=schedule,
            faults=faults,
            hypothesis=hypothesis,
            invariants=read_invariants(doc, top["invariants"].value)
            if "invariants" in top
            else None,
            autoscaling=autoscaling,
        )

    def autoscaling(self, node: yaml.Node) -> AutoscalingClaim:
        # The fault window is then a load spike (e.g. the season shape): no fault is needed.
        doc = self.doc
        example = "{scales: [payments], within_slo_after: 20s}"
        keys = doc.mapping(
            node,
            "autoscaling",
            allowed=("scales", "within_slo_after", "scale_in"),
            required=("scales", "within_slo_after"),
            example=example,
        )
        scale_in = True
        if "scale_in" in keys:
            value = doc.scalar(keys["scale_in"].value, "autoscaling.scale_in", "true")
            if not isinstance(value, bool):
                raise doc.fail(keys["scale_in"].value, "autoscaling.scale_in must be true or false")
            scale_in = value
        return AutoscalingClaim(
            scales=doc.strings(keys["scales"].value, "autoscaling.scales", "[payments]"),
            within_slo_after=doc.parsed(
                keys["within_slo_after"].value, "autoscaling.within_slo_after", parse_duration, "9s"
            ),
            scale_in=scale_in,
        )

    def replicas(self, node: yaml.Node) -> dict[str, int]:
        entries = self.doc.mapping(node, "replicas", example="{payments: 2}")
        return {
            name: self.doc.integer(entry.value, f"replicas of {name}", "2", minimum=1)
            for name, entry in entries.items()
        }

    def schedule(self, node: yaml.Node) -> Schedule:
        doc = self.doc
        phases = ("warmup", "baseline", "fault", "recovery")
        entries = doc.mapping(
            node,
            "schedule",
            allowed=phases,
            required=phases[1:],
            example="{warmup: 5s, baseline: 20s, fault: 20s, recovery: 20s}",
        )
        seconds = {
            phase: doc.parsed(entries[phase].value, f"schedule.{phase}", parse_duration, "20s")
            for phase in phases
            if phase in entries
        }
        for phase in phases[1:]:
            if seconds[phase] < 3:
                raise doc.fail(
                    entries[phase].value, f"schedule.{phase} must be at least 3s to judge anything"
                )
        return Schedule(
            warmup=seconds.get("warmup", 0.0),
            baseline=seconds["baseline"],
            fault=seconds["fault"],
            recovery=seconds["recovery"],
        )

    def target(self, node: yaml.Node) -> FaultTarget:
        doc = self.doc
        example = "{service: payments} or {replica: payments/1} or {edge: orders->payments}"
        entries = doc.mapping(
            node, "target", allowed=("service", "replica", "edge"), example=example
        )
        if len(entries) != 1:
            raise doc.fail(node, f"target takes exactly one of service, replica, edge: {example}")
        ((kind, entry),) = entries.items()
        text = doc.string(entry.value, f"target.{kind}", example)
        try:
            target = parse_target(text)
        except ValueError as exc:
            raise doc.fail(entry.value, str(exc)) from None
        if target.kind != kind:
            raise doc.fail(
                entry.value,
                f"target.{kind} {text!r} is a {target.kind}; write {target.kind}: {text}",
            )
        return target

    def fault(self, node: yaml.Node, index: int) -> Fault:
        doc = self.doc
        where = doc.where(node)
        entries = doc.mapping(
            node,
            f"fault {index + 1}",
            allowed=("name", "target", "kind", "attributes", "stream", "toxicity"),
            required=("target", "kind"),
            example="{target: {service: payments}, kind: down}",
        )
        kind = doc.string(entries["kind"].value, "kind", "down")
        if kind not in FAULT_KINDS:
            raise doc.fail(
                entries["kind"].value,
                f"unknown fault kind {kind!r}"
                f"{suggest(kind, FAULT_KINDS)}; use one of {', '.join(FAULT_KINDS)}",
            )
        target = self.target(entries["target"].value)
        attributes = self.attributes(kind, entries.get("attributes"), entries["kind"].value)
        if kind in PROCESS_KINDS and target.caller is not None:
            raise doc.fail(
                entries["target"].value,
                f"{kind} acts on processes: target a service or a replica, not an edge",
            )
        stream: Stream = "downstream"
        if "stream" in entries:
            text = doc.string(entries["stream"].value, "stream", "downstream").lower()
            if text not in ("upstream", "downstream"):
                raise doc.fail(
                    entries["stream"].value, f"stream {text!r} must be upstream or downstream"
                )
            stream = "upstream" if text == "upstream" else "downstream"
        toxicity = (
            doc.parsed(entries["toxicity"].value, "toxicity", parse_ratio, "0.5")
            if "toxicity" in entries
            else 1.0
        )
        name = (
            doc.string(entries["name"].value, "name", "slow-payments")
            if "name" in entries
            else f"{kind}-{target}"
        )
        return Fault(
            name=name,
            target=target,
            kind=kind,  # type: ignore[arg-type]
            attributes=attributes,
            stream=stream,
            toxicity=toxicity,
            where=where,
        )

    def attributes(self, kind: str, entry: Entry | None, kind_node: yaml.Node) -> dict[str, int]:
        doc = self.doc
        spec = TOXIC_ATTRIBUTES.get(kind, {})
        given: dict[str, int] = {}
        if entry is not None:
            node = entry.value
            if not spec:
                raise doc.fail(node, f"{kind} takes no attributes; remove them")
            for name, item in doc.mapping(
                node, f"{kind} attributes", allowed=tuple(spec), example=_example(kind)
            ).items():
                if name in _MILLISECONDS:
                    seconds = doc.parsed(item.value, name, _duration_ms, "500ms")
                    given[name] = round(seconds * 1000)
                else:
                    given[name] = doc.integer(item.value, name, "100")
        result: dict[str, int] = {}
        for name, default in spec.items():
            if name in given:
                result[name] = given[name]
            elif default is None:
                raise doc.fail(
                    kind_node, f"{kind} needs attribute {name!r}, e.g. attributes: {_example(kind)}"
                )
            else:
                result[name] = default
        return result

    def hypothesis(self, node: yaml.Node) -> Hypothesis:
        doc = self.doc
        entries = doc.mapping(
            node,
            "hypothesis",
            allowed=(
                "steady",
                "degraded",
                "recover_within",
                "latency_tolerance",
                "error_tolerance",
            ),
            example="{steady: [browse], degraded: {checkout: {max_latency: 300ms}}}",
        )
        steady = (
            doc.strings(entries["steady"].value, "hypothesis.steady", "[browse]")
            if "steady" in entries
            else ()
        )
        degraded: list[Degraded] = []
        if "degraded" in entries:
            for journey, item in doc.mapping(
                entries["degraded"].value,
                "hypothesis.degraded",
                example="{checkout: {max_latency: 300ms}}",
            ).items():
                limits = doc.mapping(
                    item.value,
                    f"degraded journey {journey!r}",
                    allowed=("max_latency", "errors"),
                    example="{max_latency: 300ms, errors: ['503']}",
                )
                degraded.append(
                    Degraded(
                        journey=journey,
                        max_latency_ms=doc.parsed(
                            limits["max_latency"].value, "max_latency", _duration_ms, "300ms"
                        )
                        * 1000
                        if "max_latency" in limits
                        else None,
                        errors=tuple(
                            str(e) for e in doc.strings(limits["errors"].value, "errors", "['503']")
                        )
                        if "errors" in limits
                        else (),
                    )
                )
        overlap = set(steady) & {d.journey for d in degraded}
        if overlap:
            raise doc.fail(
                node, f"journey {sorted(overlap)[0]!r} is both steady and degraded; keep it in one"
            )
        if not steady and not degraded:
            raise doc.fail(node, "the hypothesis names no journey; add steady: [...] or degraded")
        return Hypothesis(
            steady=steady,
            degraded=tuple(degraded),
            recover_within=doc.parsed(
                entries["recover_within"].value, "recover_within", parse_duration, "10s"
            )
            if "recover_within" in entries
            else None,
            latency_tolerance=float(
                doc.parsed(
                    entries["latency_tolerance"].value, "latency_tolerance", _ratio_over_one, "1.5"
                )
            )
            if "latency_tolerance" in entries
            else 1.5,
            error_tolerance=doc.parsed(
                entries["error_tolerance"].value, "error_tolerance", parse_ratio, "1%"
            )
            if "error_tolerance" in entries
            else 0.01,
        )


def _duration_ms(value: object) -> float:
    return parse_duration(value, bare_unit="ms")


def _positive(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{value!r} must be a positive number")
    return float(value)


def _ratio_over_one(value: object) -> float:
    number = _positive(value)
    if number < 1.0:
        raise ValueError(f"{value!r} must be >= 1 (1.5 allows p95 to grow by half)")
    return number


def _example(kind: str) -> str:
    return {
        "latency": "{latency: 500ms, jitter: 50ms}",
        "jitter": "{jitter: 100ms}",
        "timeout": "{timeout: 0}",
        "reset_peer": "{timeout: 0}",
        "bandwidth": "{rate: 10}",
        "slicer": "{average_size: 64, delay: 10}",
        "limit_data": "{bytes: 1000}",
    }.get(kind, "{}")


def _check_recovery_window(
    doc: YamlDoc, node: yaml.Node, schedule: Schedule, hypothesis: Hypothesis
) -> None:
    """`recover_within` must be a time the recovery window can show: a recovery counts once
    it has held RECOVERY_SETTLE_S inside the window, judged in whole seconds (one may be
    lost to rounding). A shorter window made every such experiment "did not recover"."""
    within = hypothesis.recover_within
    if within is None:
        return
    need = within + RECOVERY_SETTLE_S + 1
    if schedule.recovery < need:
        where = next((v for k, v in node.value if k.value == "recover_within"), node)
        raise doc.fail(
            where,
            f"recover_within {within:g}s cannot be judged in a {schedule.recovery:g}s recovery "
            f"window: a recovery must then hold {RECOVERY_SETTLE_S:g}s more (whole seconds), "
            f"so make schedule.recovery at least {need:g}s or recover_within at most "
            f"{max(0.0, schedule.recovery - RECOVERY_SETTLE_S - 1):g}s",
        )
