"""Toxic types, toxic values, their JSON shapes and the arithmetic behind each effect.

Pure: parsing an API body into a `Toxic`, rendering it back, and the numbers a toxic needs on
the data path (a latency draw, slice sizes). The asynchronous behaviour lives in `stages`.

Deliberate differences from Toxiproxy v2.12.0, each of which crashes or hangs upstream:
a negative bandwidth `rate`, a slicer `average_size` of 0 or less, and a negative slicer
`size_variation` are refused with 400 instead (see docs/proxy.md).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from chaos.proxy import errors, gojson
from chaos.proxy.gojson import Float32, GoJSONError, Pairs, TypeErrors

CHUNK_SIZE: Final = 32 * 1024  # Toxiproxy moves data in chunks of up to 32 KiB
MAX_DELAY_S: Final = 10.0**9  # ~31 years: longer waits are clamped rather than overflowed


class Direction(enum.IntEnum):
    """The two links of a connection: upstream is client → server, downstream the reverse."""

    UPSTREAM = 0
    DOWNSTREAM = 1

    @property
    def label(self) -> str:
        """`upstream` or `downstream`, as used in metrics labels."""
        return self.name.lower()


def parse_direction(stream: str) -> Direction | None:
    """Case-insensitive `upstream`/`downstream`, else None."""
    return {"upstream": Direction.UPSTREAM, "downstream": Direction.DOWNSTREAM}.get(stream.lower())


@dataclass(frozen=True)
class ToxicType:
    """A registered toxic: its attribute names and Go types, in Go struct field order."""

    name: str
    struct: str
    attributes: tuple[tuple[str, str], ...] = ()
    buffer: int = 4  # chunks its input channel may hold (latency: 1024, as upstream)
    validate: Callable[[dict[str, int]], str | None] = lambda _attrs: None


def _bandwidth_check(attrs: dict[str, int]) -> str | None:
    if attrs["rate"] < 0:
        return f"bandwidth rate must be 0 or more KB/s, got {attrs['rate']}"
    return None


def _slicer_check(attrs: dict[str, int]) -> str | None:
    if attrs["average_size"] <= 0:
        return f"slicer average_size must be greater than 0 bytes, got {attrs['average_size']}"
    if attrs["size_variation"] < 0:
        return f"slicer size_variation must be 0 or more bytes, got {attrs['size_variation']}"
    return None


TOXIC_TYPES: Final[dict[str, ToxicType]] = {
    t.name: t
    for t in (
        ToxicType("latency", "LatencyToxic", (("latency", "int64"), ("jitter", "int64")), 1024),
        ToxicType("bandwidth", "BandwidthToxic", (("rate", "int64"),), validate=_bandwidth_check),
        ToxicType("slow_close", "SlowCloseToxic", (("delay", "int64"),)),
        ToxicType("timeout", "TimeoutToxic", (("timeout", "int64"),)),
        ToxicType("reset_peer", "ResetToxic", (("timeout", "int64"),)),
        ToxicType(
            "slicer",
            "SlicerToxic",
            (("average_size", "int"), ("size_variation", "int"), ("delay", "int")),
            validate=_slicer_check,
        ),
        ToxicType("limit_data", "LimitDataToxic", (("bytes", "int64"),)),
        ToxicType("noop", "NoopToxic"),
    )
}


@dataclass(frozen=True)
class Toxic:
    """One toxic as the API shows it; `stream` is kept as sent (case preserved, as upstream)."""

    name: str
    type: str
    stream: str
    direction: Direction
    toxicity: float
    attributes: tuple[int, ...]

    @property
    def kind(self) -> ToxicType:
        """The registered type."""
        return TOXIC_TYPES[self.type]

    def attr(self, key: str) -> int:
        """One attribute value by name."""
        names = [name for name, _go in self.kind.attributes]
        return self.attributes[names.index(key)]

    def attrs(self) -> dict[str, int]:
        """Every attribute of the type, in Go field order."""
        return {
            name: value
            for (name, _go), value in zip(self.kind.attributes, self.attributes, strict=True)
        }

    def to_json(self) -> dict[str, object]:
        """`{"attributes":{...},"name","type","stream","toxicity"}` in Toxiproxy's field order."""
        return {
            "attributes": self.attrs(),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": Float32(self.toxicity),
        }


def _decode_attributes(
    kind: ToxicType, value: object, base: dict[str, int], where: str, problems: TypeErrors
) -> dict[str, int]:
    attrs = dict(base)
    if value is None:
        return attrs
    if not isinstance(value, Pairs):
        problems.add(gojson.kind_of(value), where, f"toxics.{kind.struct}")
        return attrs
    picked = gojson.fields(value, [name for name, _go in kind.attributes])
    for name, go_type in kind.attributes:
        if name in picked:
            field_where = gojson.field_where(kind.struct, ("attributes", name))
            attrs[name] = gojson.as_int(picked[name], attrs[name], field_where, go_type, problems)
    return attrs


def _checked(kind: ToxicType, attrs: dict[str, int]) -> tuple[int, ...]:
    problem = kind.validate(attrs)
    if problem is not None:
        raise errors.bad_request_body(problem)
    return tuple(attrs[name] for name, _go in kind.attributes)


def parse_new_toxic(body: bytes, name_taken: Callable[[str], bool]) -> Toxic:
    """Decode a `POST /proxies/{p}/toxics` body; checks run in Toxiproxy's order.

    decode → stream → type → name unique across both streams → attributes → validation.
    """
    problems = TypeErrors()
    try:
        value = gojson.decode(body)
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None
    name, type_, stream, toxicity, raw_attrs = "", "", "downstream", 1.0, None
    if isinstance(value, Pairs):
        picked = gojson.fields(value, ["attributes", "name", "type", "stream", "toxicity"])
        wrapper = "ToxicWrapper"
        name = gojson.as_string(
            picked.get("name"), name, gojson.field_where(wrapper, ("name",)), problems
        )
        type_ = gojson.as_string(
            picked.get("type"), type_, gojson.field_where(wrapper, ("type",)), problems
        )
        stream = gojson.as_string(
            picked.get("stream"), stream, gojson.field_where(wrapper, ("stream",)), problems
        )
        toxicity = gojson.as_float32(
            picked.get("toxicity"), toxicity, gojson.field_where(wrapper, ("toxicity",)), problems
        )
        raw_attrs = picked.get("attributes")
        if raw_attrs is not None and not isinstance(raw_attrs, Pairs):
            problems.add(
                gojson.kind_of(raw_attrs),
                gojson.field_where(wrapper, ("attributes",)),
                "toxics.NoopToxic",
            )
    elif value is not None:
        problems.add(gojson.kind_of(value), "Go value", "toxics.ToxicWrapper")
    try:
        problems.raise_first()
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None
    direction = parse_direction(stream)
    if direction is None:
        raise errors.invalid_stream()
    if not name:
        name = f"{type_}_{stream}"
    kind = TOXIC_TYPES.get(type_)
    if kind is None:
        raise errors.invalid_toxic_type()
    if name_taken(name):
        raise errors.toxic_exists()
    zero = {attr: 0 for attr, _go in kind.attributes}
    attrs = _decode_attributes(kind, raw_attrs, zero, "Go struct field .attributes", problems)
    try:
        problems.raise_first()
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None
    return Toxic(name, type_, stream, direction, toxicity, _checked(kind, attrs))


def parse_toxic_update(current: Toxic, body: bytes) -> Toxic:
    """Decode a `POST|PATCH /proxies/{p}/toxics/{t}` body over `current`.

    Attributes are merged key by key; toxicity is kept when absent; name, type and stream
    cannot change (they are not even read, as upstream).
    """
    problems = TypeErrors()
    try:
        value = gojson.decode(body)
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None
    kind = current.kind
    attrs = current.attrs()
    toxicity = current.toxicity
    if isinstance(value, Pairs):
        picked = gojson.fields(value, ["attributes", "toxicity"])
        attrs = _decode_attributes(
            kind, picked.get("attributes"), attrs, "Go struct field .attributes", problems
        )
        toxicity = gojson.as_float32(
            picked.get("toxicity"), toxicity, "Go struct field .toxicity", problems
        )
    elif value is not None:
        problems.add(
            gojson.kind_of(value),
            "Go value",
            "struct { Attributes interface {}; Toxicity float32 }",
        )
    try:
        problems.raise_first()
    except GoJSONError as exc:
        raise errors.bad_request_body(str(exc)) from None
    return replace(current, toxicity=toxicity, attributes=_checked(kind, attrs))


# ---------------------------------------------------------------------------------------------
# Arithmetic of the effects


def ms(value: int) -> float:
    """Milliseconds as seconds, clamped to [0, MAX_DELAY_S] (negative waits are no waits)."""
    return min(max(value, 0) / 1000.0, MAX_DELAY_S)


def latency_delay(latency_ms: int, jitter_ms: int, rng: random.Random) -> float:
    """Seconds one chunk is held: latency ± U(jitter) as upstream draws it, in [l-j, l+j)."""
    delay = latency_ms
    if jitter_ms > 0:
        delay += rng.randrange(jitter_ms * 2) - jitter_ms
    return ms(delay)


def is_toxic(toxicity: float, rng: random.Random) -> bool:
    """The per-link coin flip: a losing draw makes the toxic act as noop on that link."""
    return rng.random() < toxicity


def slice_sizes(total: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Sizes that split `total` bytes the way the slicer does: halve around ±variation.

    Always non-empty pieces that sum to `total` (upstream can emit empty or negative ones when
    variation ≥ average); `average` must be positive.
    """
    if total <= 0:
        return []
    sizes: list[int] = []
    stack = [(0, total)]
    while stack:
        start, end = stack.pop()
        if (end - start) - average <= variation or end - start < 2:
            sizes.append(end - start)
            continue
        offset = rng.randrange(variation * 2) - variation if variation > 0 else 0
        mid = min(max(start + (end - start) // 2 + offset, start + 1), end - 1)
        stack.append((mid, end))
        stack.append((start, mid))
    return sizes
