"""SLO thresholds per journey, loaded from YAML with errors that name file:line and the fix.

    window: 10s          # optional: also check every full 10 s window of the run
    warmup: 5s           # optional: ignore the first 5 s of the run
    journeys:
      checkout:
        p95: 500ms       # latency percentiles: p50, p95, p99, p99.9 ... (bare number = ms)
        p99: 1s
        error_rate: 1%   # (failures + dropped arrivals) / offered; or 0.01
        min_throughput: 5/s
      "*":               # every other journey seen in the run
        p99: 2s

Evaluation lives in `chaos.judgement.slo`. Pure: no Locust import.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from loadtests.errors import SloInvalid
from loadtests.units import format_duration, parse_duration, parse_rate, parse_ratio

ANY_JOURNEY = "*"
ERROR_RATE = "error_rate"
MIN_THROUGHPUT = "min_throughput"
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_TOP_KEYS = ("journeys", "window", "warmup")
_EXAMPLE_KEYS = ("p50", "p95", "p99", ERROR_RATE, MIN_THROUGHPUT)


@dataclass(frozen=True)
class Objective:
    """One threshold: a latency percentile (ms), a maximum error rate or a minimum throughput."""

    metric: str
    limit: float
    source: str

    @property
    def percentile(self) -> float | None:
        """The percentile (0-100] of a latency objective, else None."""
        match = _PERCENTILE.match(self.metric)
        return float(match.group(1)) if match else None

    @property
    def is_minimum(self) -> bool:
        """True when observed values must reach the limit rather than stay under it."""
        return self.metric == MIN_THROUGHPUT

    def format_value(self, value: float) -> str:
        """`value` in this objective's unit: '120.0ms', '0.50%', '12.3/s'."""
        if self.percentile is not None:
            return format_duration(value / 1000.0)
        if self.metric == ERROR_RATE:
            return f"{value * 100:.2f}%"
        return f"{value:.2f}/s"

    def describe(self) -> str:
        """The objective as written for humans: 'p99 <= 1.00s', 'min_throughput >= 5.00/s'."""
        return f"{self.metric} {'>=' if self.is_minimum else '<='} {self.format_value(self.limit)}"


@dataclass(frozen=True)
class JourneySlo:
    """The objectives of one journey (or of every other journey, ANY_JOURNEY)."""

    journey: str
    objectives: tuple[Objective, ...]
    source: str


@dataclass(frozen=True)
class SloSpec:
    """A whole thresholds file."""

    journeys: tuple[JourneySlo, ...]
    window_s: float | None = None
    warmup_s: float = 0.0
    source: str = "<string>"

    def for_journey(self, journey: str) -> JourneySlo | None:
        """The explicit entry for `journey`, else the '*' entry, else None."""
        by_name = {slo.journey: slo for slo in self.journeys}
        return by_name.get(journey) or by_name.get(ANY_JOURNEY)

    @property
    def named_journeys(self) -> tuple[str, ...]:
        """Journeys named explicitly (not '*')."""
        return tuple(slo.journey for slo in self.journeys if slo.journey != ANY_JOURNEY)


def load_slo(path: Path | str) -> SloSpec:
    """Read and validate a thresholds file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SloInvalid(
            f"cannot read SLO file {path}: {exc.strerror}; pass an existing YAML file "
            "with --gameday-slo or GAMEDAY_SLO"
        ) from exc
    return parse_slo(text, source=str(path))


def parse_slo(text: str, *, source: str = "<string>") -> SloSpec:
    """Validate thresholds YAML `text`; errors name `source`:line."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise SloInvalid(f"{source}{line}: not valid YAML: {problem}; fix the syntax") from None
        return _Parser(loader, source).spec(root)
    finally:
        loader.dispose()


class _Parser:
    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source

    def where(self, node: yaml.Node) -> str:
        return f"{self.source}:{node.start_mark.line + 1}"

    def mapping(
        self, node: yaml.Node | None, what: str, example: str
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            where = self.where(node) if node is not None else self.source
            raise SloInvalid(f"{where}: {what} must be a mapping, e.g. {example}")
        items = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(self.loader.construct_object(key_node, deep=True))
            if key in seen:
                raise SloInvalid(
                    f"{self.where(key_node)}: {key!r} appears twice in {what}; keep one"
                )
            seen.add(key)
            items.append((key, key_node, value_node))
        return items

    def spec(self, root: yaml.Node | None) -> SloSpec:
        items = self.mapping(root, "the SLO file", "'journeys: {checkout: {p99: 1s}}'")
        window_s: float | None = None
        warmup_s = 0.0
        journeys_node: yaml.Node | None = None
        for key, key_node, value_node in items:
            if key == "journeys":
                journeys_node = value_node
            elif key == "window":
                window_s = self.number(value_node, key, parse_duration, "10s")
                if window_s <= 0:
                    raise SloInvalid(f"{self.where(value_node)}: window must be > 0, e.g. 10s")
            elif key == "warmup":
                warmup_s = self.number(value_node, key, parse_duration, "5s")
            else:
                raise SloInvalid(
                    f"{self.where(key_node)}: unknown key {key!r}{_suggest(key, _TOP_KEYS)}; "
                    f"the top level takes {', '.join(_TOP_KEYS)}"
                )
        if journeys_node is None:
            raise SloInvalid(
                f"{self.source}: no 'journeys' key; add e.g. 'journeys: {{checkout: {{p99: 1s}}}}'"
            )
        journeys = tuple(
            self.journey(name, key_node, value_node)
            for name, key_node, value_node in self.mapping(
                journeys_node, "'journeys'", "'checkout: {p99: 1s}'"
            )
        )
        if not journeys:
            raise SloInvalid(f"{self.where(journeys_node)}: 'journeys' is empty; name at least one")
        return SloSpec(journeys, window_s, warmup_s, self.source)

    def journey(self, name: str, key_node: yaml.Node, node: yaml.Node) -> JourneySlo:
        objectives = []
        for metric, metric_node, value_node in self.mapping(
            node, f"journey {name!r}", "'{p99: 1s, error_rate: 1%}'"
        ):
            objectives.append(self.objective(metric, metric_node, value_node))
        if not objectives:
            raise SloInvalid(
                f"{self.where(key_node)}: journey {name!r} has no thresholds; "
                f"add e.g. 'p99: 1s' or remove it"
            )
        return JourneySlo(name, tuple(objectives), self.where(key_node))

    def objective(self, metric: str, key_node: yaml.Node, node: yaml.Node) -> Objective:
        match = _PERCENTILE.match(metric)
        if match is not None:
            if not 0.0 < float(match.group(1)) <= 100.0:
                raise SloInvalid(
                    f"{self.where(key_node)}: percentile {metric!r} must be in (0, 100]; "
                    "write p99 for the 99th, p99.9 for the 99.9th"
                )
            limit = self.number(node, metric, _duration_bare_ms, "500ms") * 1000.0
        elif metric == ERROR_RATE:
            limit = self.number(node, metric, parse_ratio, "1%")
        elif metric == MIN_THROUGHPUT:
            limit = self.number(node, metric, parse_rate, "5/s")
        else:
            raise SloInvalid(
                f"{self.where(key_node)}: unknown threshold {metric!r}"
                f"{_suggest(metric, _EXAMPLE_KEYS)}; use p<percentile> (p50, p95, p99, p99.9), "
                f"{ERROR_RATE} or {MIN_THROUGHPUT}"
            )
        return Objective(metric, limit, self.where(key_node))

    def number(
        self, node: yaml.Node, key: str, parse: Callable[[object], float], example: str
    ) -> float:
        if not isinstance(node, yaml.ScalarNode):
            raise SloInvalid(f"{self.where(node)}: {key} must be a single value, e.g. {example}")
        try:
            return parse(self.loader.construct_object(node))
        except ValueError as exc:
            raise SloInvalid(f"{self.where(node)}: {key}: {exc}") from None


def _duration_bare_ms(value: object) -> float:
    return parse_duration(value, bare_unit="ms")


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
