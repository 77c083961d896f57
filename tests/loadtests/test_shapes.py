"""Shape tick sequences, as Locust polls them once a second."""

from __future__ import annotations

import pytest

from loadtests.errors import ShapeInvalid
from loadtests.shapes import (
    ShapeParams,
    Tick,
    build_shape,
    select_classes,
    tick_sequence,
)


def users(name: str, until: float, **params: object) -> list[int | None]:
    ticks = tick_sequence(build_shape(name, ShapeParams(**params)), until)  # type: ignore[arg-type]
    return [t.users if t else None for t in ticks]


def test_steady_holds_then_stops() -> None:
    assert users("steady", 4, users=3, duration=3) == [3, 3, 3, None, None]
    forever = build_shape("steady", ShapeParams(users=3))
    assert forever.tick(1e6) == Tick(3, 3.0)


def test_ramp_reaches_its_target_as_it_ends_both_ways() -> None:
    assert users("ramp", 6, users=10, duration=5) == [2, 4, 6, 8, 10, None, None]
    assert users("ramp", 4, users=0, start_users=8, duration=4) == [6, 4, 2, 0, None]
    tick = build_shape("ramp", ShapeParams(users=100, duration=10)).tick(0)
    assert tick is not None and tick.spawn_rate >= 10  # keeps up with 10 users a second


def test_spike_goes_up_and_back() -> None:
    seq = users("spike", 7, users=2, spike_users=8, spike_at=2, spike_for=3, duration=6)
    assert seq == [2, 2, 8, 8, 8, 2, None, None]
    params = ShapeParams(users=2, spike_users=8, spike_at=2, spike_for=3, duration=6)
    spike = build_shape("spike", params)
    assert spike.tick(2.0) == Tick(8, 8.0)  # the whole spike starts within a second


def test_step_adds_a_step_every_step_time_up_to_users() -> None:
    seq = users("step", 12, users=10, step_users=4, step_time=3)
    assert seq == [4, 4, 4, 8, 8, 8, 10, 10, 10, None, None, None, None]


def test_soak_ramps_gently_and_holds_long() -> None:
    soak = build_shape("soak", ShapeParams(users=120))
    assert soak.tick(0) == Tick(120, 2.0)  # 60 s to reach 120 users
    assert soak.tick(3599) is not None and soak.tick(3600) is None


def test_season_spikes_checkout_classes_only() -> None:
    season = build_shape(
        "season",
        ShapeParams(users=4, spike_users=6, spike_at=2, spike_for=2, duration=5, spawn_rate=2),
    )
    assert tick_sequence(season, 5) == [
        Tick(4, 2.0, ("*",)),
        Tick(4, 2.0, ("*",)),
        Tick(10, 6.0, ("*checkout*",)),
        Tick(10, 6.0, ("*checkout*",)),
        Tick(4, 6.0, ("*",)),
        None,
    ]


def test_class_patterns_are_case_insensitive() -> None:
    names = ["Browse", "CheckoutUser", "GuestCheckout", "Reviews"]
    assert select_classes(names, ("*checkout*",)) == ["CheckoutUser", "GuestCheckout"]
    assert select_classes(names, ("*",)) == names
    assert select_classes(names, ("browse", "rev*")) == ["Browse", "Reviews"]


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "sawtooth",
            {},
            r"unknown shape 'sawtooth' \(--gameday-shape / GAMEDAY_SHAPE\); choose one of steady",
        ),
        ("steady", {"spawn_rate": 0.0}, r"--gameday-spawn-rate / GAMEDAY_SPAWN_RATE must be > 0"),
        ("steady", {"users": -1}, r"--gameday-users / GAMEDAY_USERS must be >= 0"),
        (
            "spike",
            {"duration": 30, "spike_at": 25, "spike_for": 10},
            r"the spike ends at 35s, after the run \(30s\)",
        ),
    ],
)
def test_bad_parameters_name_the_option(name: str, params: dict, message: str) -> None:
    with pytest.raises(ShapeInvalid, match=message):
        build_shape(name, ShapeParams(**params))
