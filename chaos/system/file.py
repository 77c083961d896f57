"""Reading a system file into `chaos.system.model.SystemSpec`, validating the whole file first.

Every error is a SystemFileInvalid naming file:line, the offending value and what to write
instead (docs/system-file.md describes the format). Call it through
`chaos.system.model.load_system`.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import string
from pathlib import Path

import yaml

from chaos.errors import SystemFileInvalid
from chaos.system.model import (
    AUTOSCALE_METRICS,
    Autoscale,
    Expectation,
    FaultSpec,
    MatrixSettings,
    ServiceSpec,
    SystemSpec,
    find_cycle,
    project_root,
    target_problem,
    urls_env,
)
from chaos.system.sections import read_invariants, read_load, read_matrix
from chaos.system.target import NAME, parse_target
from chaos.yamldoc import Entry, YamlDoc, suggest
from loadtests.errors import SloInvalid
from loadtests.slo import SloSpec, parse_slo
from loadtests.units import parse_duration

PLACEHOLDERS = ("port", "data", "python", "name", "replica")
RESERVED_ENV_PREFIX = "GAMEDAY_"
RESERVED_NAME_PREFIX = "gameday-"
_TOP_KEYS = (
    "name",
    "services",
    "infrastructure",
    "journeys",
    "expectations",
    "load",
    "invariants",
    "matrix",
)
_SERVICE_KEYS = (
    "command",
    "replicas",
    "health",
    "depends_on",
    "public",
    "env",
    "metrics",
    "autoscale",
)
_AUTOSCALE_KEYS = (
    "min",
    "max",
    "metric",
    "target",
    "scale_up_after",
    "scale_down_after",
    "tolerance",
)
_AUTOSCALE_EXAMPLE = "'{min: 1, max: 4, metric: busy, target: 0.6}'"
_INFRA_KEYS = ("command", "ready", "scheme", "env")
_EXPECTATION_KEYS = ("fault", "unaffected", "degraded")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_FAULT_KIND = re.compile(r"^[a-z][a-z0-9_-]*$")
_COMMAND_EXAMPLE = '"{python} -m uvicorn app:app --host 127.0.0.1 --port {port}"'


def read_system_file(path: Path) -> SystemSpec:
    """Read and validate a system file; raises SystemFileInvalid naming file:line and the fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemFileInvalid(
            f"cannot read system file {path}: {exc.strerror}; pass the path of a system file "
            "such as sample_system/system.yaml"
        ) from exc
    return parse_system_text(text, source=str(path), root=project_root(path))


def parse_system_text(
    text: str, *, source: str = "<string>", root: Path | None = None
) -> SystemSpec:
    """Validate system-file `text`; errors name `source`:line."""
    doc = YamlDoc.parse(text, source, SystemFileInvalid)
    return _Reader(doc, text).system(root or Path.cwd())


class _Reader:
    def __init__(self, doc: YamlDoc, text: str) -> None:
        self.doc = doc
        self.text = text
        self.depends_nodes: dict[str, yaml.Node] = {}  # service -> its depends_on value

    def system(self, root: Path) -> SystemSpec:
        doc = self.doc
        top = doc.mapping(
            doc.root,
            "the system file",
            allowed=_TOP_KEYS,
            required=("name", "services"),
            example="'name: shop' and 'services: {...}'",
        )
        name = doc.string(top["name"].value, "name", "shop")
        if not NAME.match(name):
            raise doc.fail(top["name"].value, _bad_name("system name", name))
        services = self.components(top["services"], infrastructure=False)
        if not services:
            raise doc.fail(top["services"].value, "services is empty; describe at least one")
        infrastructure = (
            self.components(top["infrastructure"], infrastructure=True)
            if "infrastructure" in top
            else {}
        )
        for clash in services.keys() & infrastructure.keys():
            raise doc.fail(
                top["infrastructure"].value,
                f"{clash!r} is both a service and infrastructure; rename one of them",
            )
        everything = {**infrastructure, **services}
        self.check_dependencies(services, everything)
        spec = SystemSpec(
            name=name,
            source=doc.source,
            root=str(root),
            services=services,
            infrastructure=infrastructure,
            slo=self.journeys(top["journeys"]) if "journeys" in top else None,
        )
        base = Path(doc.source).parent
        return dataclasses.replace(
            spec,
            expectations=tuple(self.expectations(top["expectations"].value, spec))
            if "expectations" in top
            else (),
            load=read_load(doc, top["load"].value, base, journeys=spec.journeys)
            if "load" in top
            else None,
            invariants=read_invariants(doc, top["invariants"].value)
            if "invariants" in top
            else None,
            matrix=read_matrix(doc, top["matrix"].value, spec.journeys)
            if "matrix" in top
            else MatrixSettings(),
        )

    # -- services and infrastructure ----------------------------------------------------------

    def components(self, entry: Entry, *, infrastructure: bool) -> dict[str, ServiceSpec]:
        doc = self.doc
        section = "infrastructure" if infrastructure else "services"
        example = (
            "'nats: {command: \"nats-server -js -a 127.0.0.1 -p {port} -sd {data}\"}'"
            if infrastructure
            else f"'payments: {{command: {_COMMAND_EXAMPLE}}}'"
        )
        found: dict[str, ServiceSpec] = {}
        for name, item in doc.mapping(entry.value, section, example=example).items():
            kind = "infrastructure" if infrastructure else "service"
            if not NAME.match(name):
                raise doc.fail(item.key, _bad_name(f"{kind} name", name))
            if name.startswith(RESERVED_NAME_PREFIX):
                raise doc.fail(
                    item.key,
                    f"{kind} name {name!r}: names starting with {RESERVED_NAME_PREFIX!r} are "
                    f"gameday's own processes (fault proxy, Prometheus); write e.g. "
                    f"{name.removeprefix(RESERVED_NAME_PREFIX)!r}",
                )
            found[name] = self.component(name, item, infrastructure=infrastructure)
        return found

    def component(self, name: str, item: Entry, *, infrastructure: bool) -> ServiceSpec:
        doc = self.doc
        what = f"{'infrastructure' if infrastructure else 'services'}.{name}"
        keys = doc.mapping(
            item.value,
            what,
            allowed=_INFRA_KEYS if infrastructure else _SERVICE_KEYS,
            required=("command",),
            example=f"'command: {_COMMAND_EXAMPLE}'",
        )
        command = self.command(keys["command"].value, f"{what}.command")
        env = self.env(keys["env"].value, f"{what}.env") if "env" in keys else {}
        where = doc.where(item.key)
        if infrastructure:
            return ServiceSpec(
                name=name,
                command=command,
                health=self.health(keys, "ready", what, default="tcp"),
                scheme=self.scheme(keys, what),
                env=env,
                metrics=None,
                infrastructure=True,
                where=where,
            )
        autoscale = self.autoscale(keys["autoscale"].value, what) if "autoscale" in keys else None
        replicas = autoscale.min if autoscale is not None else 1
        if "replicas" in keys:
            node = keys["replicas"].value
            value = doc.scalar(node, f"{what}.replicas", "2")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise doc.fail(
                    node,
                    f"{what}.replicas must be a whole number >= 1, got {value!r}; write e.g. 2",
                )
            replicas = value
            if autoscale is not None and not autoscale.min <= value <= autoscale.max:
                raise doc.fail(
                    node,
                    f"{what}.replicas is {value}, outside its autoscale range "
                    f"{autoscale.min}..{autoscale.max}; start within it, or leave replicas "
                    "out to start at autoscale.min",
                )
        depends_on: tuple[str, ...] = ()
        if "depends_on" in keys:
            self.depends_nodes[name] = keys["depends_on"].value
            depends_on = doc.strings(keys["depends_on"].value, f"{what}.depends_on", "[payments]")
        public = False
        if "public" in keys:
            value = doc.scalar(keys["public"].value, f"{what}.public", "true")
            if not isinstance(value, bool):
                raise doc.fail(
                    keys["public"].value, f"{what}.public must be true or false, got {value!r}"
                )
            public = value
        metrics: str | None = "/metrics"
        if "metrics" in keys:
            node = keys["metrics"].value
            value = doc.scalar(node, f"{what}.metrics", "/metrics")
            if value is False:
                metrics = None
            elif isinstance(value, str) and value.startswith("/"):
                metrics = value
            else:
                raise doc.fail(
                    node,
                    f"{what}.metrics must be an HTTP path such as /metrics, or false when the "
                    f"service serves no metrics; got {value!r}",
                )
        return ServiceSpec(
            name=name,
            command=command,
            replicas=replicas,
            health=self.health(keys, "health", what, default="/readyz"),
            depends_on=depends_on,
            public=public,
            env=env,
            metrics=metrics,
            autoscale=autoscale,
            where=where,
        )

    def autoscale(self, node: yaml.Node, what: str) -> Autoscale:
        doc = self.doc
        where = f"{what}.autoscale"
        keys = doc.mapping(
            node,
            where,
            allowed=_AUTOSCALE_KEYS,
            required=("max", "metric", "target"),
            example=_AUTOSCALE_EXAMPLE,
        )
        low = doc.integer(keys["min"].value, f"{where}.min", "1", minimum=1) if "min" in keys else 1
        high = doc.integer(keys["max"].value, f"{where}.max", "4", minimum=1)
        if high < low:
            raise doc.fail(
                keys["max"].value, f"{where}.max {high} is below min {low}; write max >= min"
            )
        metric = doc.string(keys["metric"].value, f"{where}.metric", "busy")
        if metric not in AUTOSCALE_METRICS:
            raise doc.fail(
                keys["metric"].value,
                f"{where}.metric {metric!r} is not one gameday measures"
                f"{suggest(metric, AUTOSCALE_METRICS)}; use busy (fraction of the concurrency "
                "limit in use), cpu (cores per replica) or in_flight (requests per replica)",
            )
        target = doc.scalar(keys["target"].value, f"{where}.target", "0.6")
        if isinstance(target, bool) or not isinstance(target, int | float) or target <= 0:
            raise doc.fail(
                keys["target"].value,
                f"{where}.target must be a number > 0 (the {metric} per replica to hold), "
                f"got {target!r}; write e.g. 0.6",
            )
        if metric == "busy" and target > 1:
            raise doc.fail(
                keys["target"].value,
                f"{where}.target {target} is a busy fraction and cannot exceed 1; write e.g. 0.6",
            )
        windows = {}
        for key, default in (("scale_up_after", 0.0), ("scale_down_after", 300.0)):
            windows[key] = (
                doc.parsed(keys[key].value, f"{where}.{key}", parse_duration, "30s")
                if key in keys
                else default
            )
        tolerance = 0.1
        if "tolerance" in keys:
            value = doc.scalar(keys["tolerance"].value, f"{where}.tolerance", "0.1")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise doc.fail(
                    keys["tolerance"].value,
                    f"{where}.tolerance must be a fraction in [0, 1), got {value!r}; write 0.1",
                )
            tolerance = float(value)
        return Autoscale(
            min=low,
            max=high,
            metric=metric,
            target=float(target),
            scale_up_after=windows["scale_up_after"],
            scale_down_after=windows["scale_down_after"],
            tolerance=tolerance,
            where=doc.where(node),
        )

    def command(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        doc = self.doc
        if isinstance(node, yaml.SequenceNode):
            argv = doc.strings(node, what, _COMMAND_EXAMPLE)
        else:
            line = doc.string(node, what, _COMMAND_EXAMPLE)
            try:
                argv = tuple(shlex.split(line))
            except ValueError as exc:
                raise doc.fail(
                    node, f"{what} {line!r} cannot be split into words ({exc}); close the quote"
                ) from None
        if not argv:
            raise doc.fail(node, f"{what} is empty; write e.g. {_COMMAND_EXAMPLE}")
        used: set[str] = set()
        for word in argv:
            try:
                fields = list(string.Formatter().parse(word))
            except ValueError as exc:
                raise doc.fail(
                    node,
                    f"{what}: {word!r} has a stray brace ({exc}); write {{{{ or }}}} for a "
                    "literal brace",
                ) from None
            for _, field_name, spec, conversion in fields:
                if field_name is None:
                    continue
                if field_name not in PLACEHOLDERS or spec or conversion:
                    placeholder = word[word.find("{") :]
                    raise doc.fail(
                        node,
                        f"{what}: unknown placeholder {placeholder.split('}')[0] + '}'!r}"
                        f"{suggest(field_name, PLACEHOLDERS)}; the placeholders are "
                        + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS),
                    )
                used.add(field_name)
        if "port" not in used:
            raise doc.fail(
                node,
                f"{what} has no {{port}}: gameday picks a free port for every process and the "
                f"command must listen on it; write e.g. {_COMMAND_EXAMPLE}",
            )
        return argv

    def health(self, keys: dict[str, Entry], key: str, what: str, *, default: str) -> str:
        if key not in keys:
            return default
        node = keys[key].value
        value = self.doc.string(node, f"{what}.{key}", "/readyz")
        if value != "tcp" and not value.startswith("/"):
            raise self.doc.fail(
                node,
                f"{what}.{key} {value!r} is neither an HTTP path nor tcp; write e.g. /readyz "
                "(polled until it answers 200) or tcp (until the port accepts connections)",
            )
        return value

    def scheme(self, keys: dict[str, Entry], what: str) -> str:
        if "scheme" not in keys:
            return "http"
        node = keys["scheme"].value
        value = self.doc.string(node, f"{what}.scheme", "nats")
        if not _SCHEME.match(value):
            raise self.doc.fail(
                node, f"{what}.scheme {value!r} is not a URL scheme; write e.g. nats or http"
            )
        return value

    def env(self, node: yaml.Node, what: str) -> dict[str, str]:
        doc = self.doc
        env: dict[str, str] = {}
        for key, item in doc.mapping(node, what, example="'{LOG_LEVEL: info}'").items():
            if not _ENV_NAME.match(key):
                raise doc.fail(
                    item.key, f"{what}: {key!r} is not a variable name; use letters, digits and _"
                )
            if key.startswith(RESERVED_ENV_PREFIX):
                raise doc.fail(
                    item.key,
                    f"{what}: {key} is set by gameday itself (see docs/system-file.md); remove it",
                )
            value = doc.scalar(item.value, f"{what}.{key}", '"200"')
            if value is None:
                raise doc.fail(item.value, f'{what}.{key} has no value; write e.g. {key}: "1"')
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    def check_dependencies(
        self, services: dict[str, ServiceSpec], everything: dict[str, ServiceSpec]
    ) -> None:
        doc = self.doc
        for spec in services.values():
            node = self.depends_nodes.get(spec.name)
            what = f"{spec.section}.depends_on"
            seen: set[str] = set()
            for dep in spec.depends_on:
                if dep == spec.name:
                    raise doc.fail(node, f"{what} names the service itself; remove {dep!r}")
                if dep not in everything:
                    raise doc.fail(
                        node,
                        f"{what} names {dep!r}, which is neither a service nor infrastructure"
                        f"{suggest(dep, everything)}; known: {', '.join(everything)}",
                    )
                if dep in seen:
                    raise doc.fail(node, f"{what} names {dep!r} twice; keep one")
                seen.add(dep)
                if urls_env(dep) in spec.env:
                    raise SystemFileInvalid(
                        f"{spec.where}: {spec.section}.env sets {urls_env(dep)}, which gameday "
                        f"fills with the proxies in front of {dep!r}; remove it"
                    )
        cycle = find_cycle({name: s.depends_on for name, s in services.items()})
        if cycle:
            raise doc.fail(
                self.depends_nodes.get(cycle[0]),
                f"depends_on forms a cycle {' -> '.join(cycle)}; services must start in some "
                "order, so remove one of these dependencies",
            )

    # -- journeys and expectations ------------------------------------------------------------

    def journeys(self, entry: Entry) -> SloSpec:
        # The journeys section has the SLO file's shape; validate it with loadtests.slo on the
        # same lines of text, padded so that its errors name this file's line numbers.
        key, value = entry.key, entry.value
        if key.start_mark.column != 0:
            raise self.doc.fail(
                key, "write journeys as a top-level block ('journeys:' on its own line)"
            )
        snippet = (
            "\n" * key.start_mark.line + self.text[key.start_mark.index : value.end_mark.index]
        )
        try:
            return parse_slo(snippet + "\n", source=self.doc.source)
        except SloInvalid as exc:
            raise SystemFileInvalid(str(exc)) from None

    def expectations(self, node: yaml.Node, spec: SystemSpec) -> list[Expectation]:
        doc = self.doc
        example = "'- {fault: {target: payments, kind: down}, unaffected: [browse]}'"
        found = []
        for item in doc.sequence(node, "expectations", example):
            keys = doc.mapping(
                item,
                "an expectation",
                allowed=_EXPECTATION_KEYS,
                required=("fault",),
                example=example,
            )
            fault = self.fault(keys["fault"].value, spec)
            lists: dict[str, tuple[str, ...]] = {}
            for key in ("unaffected", "degraded"):
                lists[key] = ()
                if key in keys:
                    lists[key] = doc.strings(keys[key].value, key, "[browse, checkout]")
                    for journey in lists[key]:
                        if journey not in spec.journeys:
                            known = ", ".join(spec.journeys) or "none yet"
                            raise doc.fail(
                                keys[key].value,
                                f"{key} names journey {journey!r}, which is not under "
                                f"journeys{suggest(journey, spec.journeys)} (known: {known}); "
                                f"add it there with its SLO, e.g. '{journey}: {{p95: 300ms}}'",
                            )
            both = set(lists["unaffected"]) & set(lists["degraded"])
            if both:
                raise doc.fail(
                    item, f"journey {sorted(both)[0]!r} is both unaffected and degraded; pick one"
                )
            found.append(
                Expectation(fault, lists["unaffected"], lists["degraded"], doc.where(item))
            )
        return found

    def fault(self, node: yaml.Node, spec: SystemSpec) -> FaultSpec:
        doc = self.doc
        keys = doc.mapping(
            node, "fault", required=("target", "kind"), example="'{target: payments, kind: down}'"
        )
        target_node = keys["target"].value
        text = doc.string(target_node, "fault.target", "payments")
        try:
            target = parse_target(text)
        except ValueError as exc:
            raise doc.fail(target_node, f"fault.target: {exc}") from None
        problem = target_problem(spec, target)
        if problem:
            raise doc.fail(target_node, f"fault.target {text!r}: {problem}")
        kind_node = keys["kind"].value
        kind = doc.string(kind_node, "fault.kind", "down")
        if not _FAULT_KIND.match(kind):
            raise doc.fail(kind_node, f"fault.kind {kind!r} is not a fault name; write e.g. down")
        params = {
            key: doc.scalar(entry.value, f"fault.{key}", "200ms")
            for key, entry in keys.items()
            if key not in ("target", "kind")
        }
        return FaultSpec(target, kind, params, doc.where(node))


def _bad_name(what: str, name: str) -> str:
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "shop"
    if not fixed[0].isalpha():
        fixed = f"s-{fixed}"
    return (
        f"{what} {name!r} must be lower-case letters, digits and '-', starting with a letter "
        f"(it becomes part of proxy and variable names); write e.g. {fixed!r}"
    )
