"""Readers for the sections of system and experiment files beyond the topology.

    load: {locustfile: ../loadtests/locustfile.py, users: 4, env: {SHOP_LOAD_MODEL: open}}
    invariants: {command: "{python} -m sample_system.audit --wait 30", timeout: 60s}
    matrix: {window: 4s, latency: 1500ms, deadlines: {checkout: 3500ms}}

`load` and `invariants` appear in both kinds of file; `matrix` only in system files.

Paths are relative to the file that names them; every error names file:line and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from chaos.system.model import (
    MATRIX_FAULTS,
    HostileInput,
    Invariants,
    JourneyLoad,
    LoadProfile,
    MatrixSettings,
)
from chaos.yamldoc import Entry, YamlDoc, suggest
from loadtests.units import parse_duration, parse_ratio

LOAD_KEYS = (
    "locustfile",
    "users",
    "spawn_rate",
    "shape",
    "options",
    "processes",
    "env",
    "journeys",
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_path(doc: YamlDoc, node: yaml.Node, base: Path, what: str, example: str) -> Path:
    """An existing file, relative to `base` (the directory of the file being read)."""
    path = (base / doc.string(node, what, example)).resolve()
    if not path.is_file():
        raise doc.fail(
            node, f"{what} {path} does not exist; give a path relative to this file, e.g. {example}"
        )
    return path


def read_text_mapping(doc: YamlDoc, entry: Entry | None, what: str, example: str) -> dict[str, str]:
    """A mapping of names to scalars, every value as text (environment, shape options)."""
    if entry is None:
        return {}
    return {
        key: str(doc.scalar(item.value, f"{what}.{key}", example))
        for key, item in doc.mapping(entry.value, what, example=example).items()
    }


def read_load(
    doc: YamlDoc,
    node: yaml.Node,
    base: Path,
    what: str = "load",
    *,
    journeys: tuple[str, ...] | None = None,
) -> LoadProfile:
    """A `load:` section: the locustfile and how to run it.

    In a system file (`journeys` given: the journey names) it may also say how to load one
    journey alone (`journeys: {checkout: {user_class: ..., rate_env: ...}}`, for `gameday scale`
    and the pytest plugin's `load`).
    """
    entries = doc.mapping(
        node,
        what,
        allowed=LOAD_KEYS,
        required=("locustfile", "users"),
        example="{locustfile: ../loadtests/locustfile.py, users: 20}",
    )
    users = doc.integer(entries["users"].value, f"{what}.users", "20", minimum=1)
    spawn_rate = (
        float(doc.parsed(entries["spawn_rate"].value, f"{what}.spawn_rate", _positive, "20"))
        if "spawn_rate" in entries
        else float(users)
    )
    return LoadProfile(
        locustfile=read_path(doc, entries["locustfile"].value, base, f"{what}.locustfile", "x.py"),
        users=users,
        spawn_rate=spawn_rate,
        shape=doc.string(entries["shape"].value, f"{what}.shape", "steady")
        if "shape" in entries
        else "steady",
        options=read_text_mapping(
            doc, entries.get("options"), f"{what}.options", "{spike_at: 20s}"
        ),
        processes=doc.integer(entries["processes"].value, f"{what}.processes", "2", minimum=1)
        if "processes" in entries
        else None,
        env=read_text_mapping(doc, entries.get("env"), f"{what}.env", "{SHOP_LOAD_MODEL: open}"),
        journeys=_journey_loads(doc, entries["journeys"], what, journeys or ())
        if "journeys" in entries
        else {},
    )


def _journey_loads(
    doc: YamlDoc, entry: Entry, what: str, known: tuple[str, ...]
) -> dict[str, JourneyLoad]:
    example = "'{checkout: {user_class: CheckoutArrivals, rate_env: SHOP_RATE_CHECKOUT}}'"
    found: dict[str, JourneyLoad] = {}
    for journey, item in doc.mapping(entry.value, f"{what}.journeys", example=example).items():
        if journey not in known:
            raise doc.fail(
                item.key,
                f"{what}.journeys names {journey!r}, which is not under journeys"
                f"{suggest(journey, known)}; known: {', '.join(known) or '(none)'}",
            )
        where = f"{what}.journeys.{journey}"
        keys = doc.mapping(
            item.value,
            where,
            allowed=("user_class", "rate_env"),
            required=("user_class", "rate_env"),
            example="'{user_class: CheckoutArrivals, rate_env: SHOP_RATE_CHECKOUT}'",
        )
        rate_env = doc.string(keys["rate_env"].value, f"{where}.rate_env", "SHOP_RATE_CHECKOUT")
        if not _ENV_NAME.match(rate_env):
            raise doc.fail(
                keys["rate_env"].value, f"{where}.rate_env {rate_env!r} is not a variable name"
            )
        found[journey] = JourneyLoad(
            doc.string(keys["user_class"].value, f"{where}.user_class", "CheckoutArrivals"),
            rate_env,
        )
    return found


def read_invariants(doc: YamlDoc, node: yaml.Node, what: str = "invariants") -> Invariants:
    """An `invariants:` section: a command that exits 0 when the invariants hold."""
    entries = doc.mapping(
        node,
        what,
        allowed=("command", "timeout", "under_load", "after"),
        required=("command",),
        example="{command: '{python} -m sample_system.audit'}",
    )
    return Invariants(
        command=doc.string(entries["command"].value, f"{what}.command", "'...'"),
        timeout=doc.parsed(entries["timeout"].value, f"{what}.timeout", parse_duration, "60s")
        if "timeout" in entries
        else 60.0,
        under_load=doc.string(entries["under_load"].value, f"{what}.under_load", "'...'")
        if "under_load" in entries
        else None,
        after=doc.strings(entries["after"].value, f"{what}.after", "[kill, payments]")
        if "after" in entries
        else ("kill",),
    )


def _positive(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{value!r} must be a positive number")
    return float(value)


def read_matrix(doc: YamlDoc, node: yaml.Node, journeys: tuple[str, ...]) -> MatrixSettings:
    """The `matrix:` section of a system file (every key optional; defaults in MatrixSettings)."""
    what = "matrix"
    entries = doc.mapping(node, what, allowed=_MATRIX_KEYS, example="{window: 4s, latency: 1500ms}")
    values: dict[str, Any] = {}
    if "faults" in entries:
        kinds = doc.strings(entries["faults"].value, "matrix.faults", "[down, latency]")
        for kind in kinds:
            if kind not in MATRIX_FAULTS:
                raise doc.fail(
                    entries["faults"].value,
                    f"matrix.faults names {kind!r}{suggest(kind, MATRIX_FAULTS)}; the matrix's "
                    f"fault kinds are {', '.join(MATRIX_FAULTS)}",
                )
        values["faults"] = kinds
    for key in ("warmup", "baseline", "window", "recover_within", "settle"):
        if key in entries:
            seconds = doc.parsed(entries[key].value, f"matrix.{key}", parse_duration, "4s")
            if key in ("baseline", "window") and seconds < 2:
                raise doc.fail(entries[key].value, f"matrix.{key} must be at least 2s")
            values[key] = seconds
    for key, field_name in (("latency", "latency_ms"), ("slow", "slow_ms")):
        if key in entries:
            ms = doc.parsed(entries[key].value, f"matrix.{key}", _milliseconds, "1500ms")
            values[field_name] = round(ms)
    if "deadlines" in entries:
        deadlines: dict[str, float] = {}
        for journey, item in doc.mapping(
            entries["deadlines"].value, "matrix.deadlines", example="{checkout: 3500ms}"
        ).items():
            if journey not in journeys:
                raise doc.fail(
                    item.key,
                    f"matrix.deadlines names journey {journey!r}{suggest(journey, journeys)}; "
                    f"journeys are {', '.join(journeys) or '(none)'}",
                )
            deadlines[journey] = doc.parsed(
                item.value, f"matrix.deadlines.{journey}", _milliseconds, "3500ms"
            )
        values["deadlines"] = deadlines
    for key, field_name in (
        ("trace_ratio", "trace_ratio"),
        ("error_tolerance", "error_tolerance"),
        ("false_discovery_rate", "false_discovery_rate"),
    ):
        if key in entries:
            values[field_name] = doc.parsed(entries[key].value, f"matrix.{key}", _fraction, "1%")
    for key in ("latency_tolerance", "median_tolerance"):
        if key in entries:
            values[key] = doc.parsed(entries[key].value, f"matrix.{key}", _over_one, "1.5")
    if "hostile_input" in entries:
        values["hostile_input"] = _hostile(doc, entries["hostile_input"].value)
    return MatrixSettings(**values)


_MATRIX_KEYS = (
    "faults",
    "warmup",
    "baseline",
    "window",
    "recover_within",
    "settle",
    "latency",
    "slow",
    "deadlines",
    "trace_ratio",
    "latency_tolerance",
    "median_tolerance",
    "error_tolerance",
    "false_discovery_rate",
    "hostile_input",
)


def _hostile(doc: YamlDoc, node: yaml.Node) -> HostileInput:
    what = "matrix.hostile_input"
    entries = doc.mapping(
        node,
        what,
        allowed=("openapi", "rate", "headers", "burst"),
        example="{rate: 10, burst: 8, headers: {X-API-Key: loadtest-key}}",
    )
    openapi = "/openapi.json"
    if "openapi" in entries:
        openapi = doc.string(entries["openapi"].value, f"{what}.openapi", "/openapi.json")
        if not openapi.startswith("/"):
            raise doc.fail(
                entries["openapi"].value,
                f"{what}.openapi {openapi!r} must be the HTTP path of the public service's "
                "OpenAPI document, e.g. /openapi.json",
            )
    rate = (
        doc.parsed(entries["rate"].value, f"{what}.rate", _positive, "10")
        if "rate" in entries
        else 10.0
    )
    headers = read_text_mapping(doc, entries.get("headers"), f"{what}.headers", "{X-API-Key: k}")
    burst = 8
    if "burst" in entries:
        burst = doc.integer(entries["burst"].value, f"{what}.burst", "8")
    return HostileInput(openapi=openapi, rate=rate, headers=headers, burst=burst)


def _milliseconds(value: object) -> float:
    ms = parse_duration(value, bare_unit="ms") * 1000.0
    if ms <= 0:
        raise ValueError(f"{value!r} must be longer than 0ms")
    return ms


def _fraction(value: object) -> float:
    number = parse_ratio(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{value!r} must be a fraction between 0 and 1 (e.g. 20% or 0.2)")
    return number


def _over_one(value: object) -> float:
    number = _positive(value)
    if number < 1.0:
        raise ValueError(f"{value!r} must be >= 1 (1.5 lets p95 grow by half)")
    return number
