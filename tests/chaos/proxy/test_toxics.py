"""Toxic bodies, defaults, check order, JSON shapes and the arithmetic of the effects (pure)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.proxy import gojson
from chaos.proxy.errors import ApiError
from chaos.proxy.toxics import (
    TOXIC_TYPES,
    Direction,
    latency_delay,
    parse_new_toxic,
    parse_toxic_update,
    slice_sizes,
)


def new(body: object, taken: set[str] | None = None) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_new_toxic(raw, lambda name: name in (taken or set()))


def error_of(body: object, taken: set[str] | None = None) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        new(body, taken)
    return caught.value.status, caught.value.message


def test_defaults_stream_toxicity_and_name() -> None:
    toxic = parse_new_toxic(b'{"type": "latency"}', lambda _n: False)
    assert (toxic.name, toxic.stream, toxic.direction, toxic.toxicity) == (
        "latency_downstream",
        "downstream",
        Direction.DOWNSTREAM,
        1.0,
    )
    assert gojson.encode(toxic.to_json()) == (
        '{"attributes":{"latency":0,"jitter":0},"name":"latency_downstream",'
        '"type":"latency","stream":"downstream","toxicity":1}'
    )


def test_stream_is_case_insensitive_and_kept_as_sent() -> None:
    toxic = parse_new_toxic(b'{"type": "latency", "stream": "UpStream"}', lambda _n: False)
    assert toxic.direction is Direction.UPSTREAM
    assert (toxic.stream, toxic.name) == ("UpStream", "latency_UpStream")


@pytest.mark.parametrize(
    ("body", "taken", "status", "message"),
    [
        (b"{", None, 400, "bad request body: unexpected EOF"),
        (
            {"type": "nope", "stream": "sideways"},
            None,
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        ({"type": "nope"}, None, 400, "invalid toxic type"),
        (
            {"type": "latency", "name": "x", "attributes": {"latency": 1.5}},
            {"x"},
            409,
            "toxic already exists",
        ),
        (
            {"type": "latency", "attributes": {"latency": 1.5}},
            None,
            400,
            "bad request body: json: cannot unmarshal number 1.5 into Go struct field "
            "LatencyToxic.attributes.latency of type int64",
        ),
        (
            {"type": "latency", "toxicity": "high"},
            None,
            400,
            "bad request body: json: cannot unmarshal string into Go struct field "
            "ToxicWrapper.toxicity of type float32",
        ),
        (
            {"type": "slicer", "attributes": {"average_size": 0}},
            None,
            400,
            "bad request body: slicer average_size must be greater than 0 bytes, got 0",
        ),
        (
            {"type": "bandwidth", "attributes": {"rate": -1}},
            None,
            400,
            "bad request body: bandwidth rate must be 0 or more KB/s, got -1",
        ),
    ],
)
def test_errors_in_upstream_order(
    body: object, taken: set[str] | None, status: int, message: str
) -> None:
    assert error_of(body, taken) == (status, message)


def test_unknown_attributes_are_ignored_and_missing_ones_are_zero() -> None:
    toxic = parse_new_toxic(
        b'{"type": "slicer", "attributes": {"AVERAGE_SIZE": 10, "x": 1}}', lambda _n: False
    )
    assert toxic.attrs() == {"average_size": 10, "size_variation": 0, "delay": 0}


def test_every_type_lists_every_attribute() -> None:
    for name, kind in TOXIC_TYPES.items():
        body = {"type": name}
        if name == "slicer":
            body["attributes"] = {"average_size": 1}
        toxic = new(body)
        assert list(toxic.to_json()["attributes"]) == [attr for attr, _go in kind.attributes]  # type: ignore[attr-defined]


def test_update_merges_attributes_and_keeps_toxicity() -> None:
    toxic = parse_new_toxic(
        b'{"type": "latency", "toxicity": 0.5, "attributes": {"latency": 100, "jitter": 10}}',
        lambda _n: False,
    )
    updated = parse_toxic_update(
        toxic, b'{"attributes": {"latency": 1000}, "name": "ignored", "stream": "upstream"}'
    )
    assert updated.attrs() == {"latency": 1000, "jitter": 10}
    assert (updated.toxicity, updated.name, updated.stream) == (
        toxic.toxicity,
        toxic.name,
        toxic.stream,
    )
    assert parse_toxic_update(updated, b'{"toxicity": 0.2}').toxicity == pytest.approx(0.2)


def test_update_validates_like_create() -> None:
    toxic = parse_new_toxic(
        b'{"type": "slicer", "attributes": {"average_size": 5}}', lambda _n: False
    )
    with pytest.raises(ApiError) as caught:
        parse_toxic_update(toxic, b'{"attributes": {"average_size": 0}}')
    assert caught.value.status == 400


def test_latency_jitter_is_uniform_in_go_range() -> None:
    rng = random.Random(1)
    draws = {round(latency_delay(100, 10, rng) * 1000) for _ in range(2000)}
    assert draws == set(range(90, 110))
    assert latency_delay(-5, 0, rng) == 0.0


@given(
    total=st.integers(0, 40_000),
    average=st.integers(1, 5000),
    variation=st.integers(0, 10_000),
    seed=st.integers(0, 2**32),
)
def test_slices_cover_every_byte_with_non_empty_pieces(
    total: int, average: int, variation: int, seed: int
) -> None:
    sizes = slice_sizes(total, average, variation, random.Random(seed))
    assert sum(sizes) == total
    assert all(size > 0 for size in sizes)


def test_slices_are_about_the_average() -> None:
    sizes = slice_sizes(32 * 1024, 100, 10, random.Random(3))
    assert 100 < len(sizes) < 700
    assert max(sizes) <= 110 * 2
