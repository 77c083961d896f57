"""Load shapes as pure functions of time: what user count to hold at t seconds into the run.

    shape = build_shape("spike", ShapeParams(users=10, spike_users=50, spike_at=20, spike_for=10))
    shape.tick(25.0)  ->  Tick(users=50, spawn_rate=50.0)
    shape.tick(61.0)  ->  None   # the run is over

`loadtests.locust_shapes.GamedayShape` turns ticks into Locust's `(users, spawn_rate[,
user_classes])`. `Tick.classes` names the user classes (fnmatch patterns, case-insensitive)
that a tick spawns: the shopping-season shape adds its extra users to checkout classes only.
Every `duration` is the whole run, in seconds. Pure: no Locust import.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import ClassVar, Protocol

from loadtests.errors import ShapeInvalid

ALL_CLASSES = ("*",)


@dataclass(frozen=True)
class Tick:
    """Hold `users` users, starting or stopping `spawn_rate` per second to get there."""

    users: int
    spawn_rate: float
    classes: tuple[str, ...] | None = None  # None: leave Locust's class choice alone


class Shape(Protocol):
    """Anything with a `tick(t)`; `None` ends the run."""

    name: ClassVar[str]

    def tick(self, t: float) -> Tick | None: ...


@dataclass(frozen=True)
class Steady:
    """`users` users for `duration` seconds (None: until Locust's --run-time or Ctrl-C)."""

    name: ClassVar[str] = "steady"
    users: int
    spawn_rate: float
    duration: float | None = None

    def tick(self, t: float) -> Tick | None:
        if self.duration is not None and t >= self.duration:
            return None
        return Tick(self.users, self.spawn_rate)


@dataclass(frozen=True)
class Ramp:
    """From `start_users` to `users` in a straight line over `duration`, then stop.

    Ramping down works too: `start_users` above `users`.
    """

    name: ClassVar[str] = "ramp"
    users: int
    duration: float
    start_users: int = 0

    def tick(self, t: float) -> Tick | None:
        if t >= self.duration:
            return None
        slope = (self.users - self.start_users) / self.duration
        # each tick aims at the count due one second later (reaching `users` as the ramp ends),
        # at a rate that gets there before the next tick
        target = self.start_users + slope * min(t + 1.0, self.duration)
        return Tick(round(target), max(1.0, math.ceil(abs(slope))))


@dataclass(frozen=True)
class _Spiked:
    users: int
    spike_users: int
    spike_at: float
    spike_for: float
    duration: float
    spawn_rate: float
    spike_rate: float

    def _phase(self, t: float) -> str | None:
        if t >= self.duration:
            return None
        if t < self.spike_at:
            return "before"
        return "spike" if t < self.spike_at + self.spike_for else "after"


@dataclass(frozen=True)
class Spike(_Spiked):
    """`users` users, `spike_users` users during [spike_at, spike_at + spike_for), then back."""

    name: ClassVar[str] = "spike"

    def tick(self, t: float) -> Tick | None:
        phase = self._phase(t)
        if phase is None:
            return None
        if phase == "before":
            return Tick(self.users, self.spawn_rate)
        return Tick(self.spike_users if phase == "spike" else self.users, self.spike_rate)


@dataclass(frozen=True)
class Step:
    """Capacity search: `step_users` more users every `step_time` seconds, up to `users`."""

    name: ClassVar[str] = "step"
    users: int
    step_users: int
    step_time: float
    duration: float

    def tick(self, t: float) -> Tick | None:
        if t >= self.duration:
            return None
        steps = math.floor(t / self.step_time) + 1
        return Tick(min(steps * self.step_users, self.users), float(self.step_users))


@dataclass(frozen=True)
class Soak:
    """A gentle ramp to `users` over `ramp_up`, held for a long `duration` (leaks, drift)."""

    name: ClassVar[str] = "soak"
    users: int
    ramp_up: float
    duration: float

    def tick(self, t: float) -> Tick | None:
        if t >= self.duration:
            return None
        return Tick(self.users, max(self.users / self.ramp_up, 0.01))


@dataclass(frozen=True)
class Season(_Spiked):
    """Shopping season: `users` on every journey, plus `spike_users` on checkout classes only."""

    name: ClassVar[str] = "season"
    spike_classes: tuple[str, ...] = ("*checkout*",)

    def tick(self, t: float) -> Tick | None:
        phase = self._phase(t)
        if phase is None:
            return None
        if phase == "spike":
            # Locust spawns the added users from these classes only; users already running stay
            return Tick(self.users + self.spike_users, self.spike_rate, self.spike_classes)
        # stopping removes the most recently started users first: the checkout spike
        rate = self.spawn_rate if phase == "before" else self.spike_rate
        return Tick(self.users, rate, ALL_CLASSES)


SHAPES: dict[str, type[Steady | Ramp | Spike | Step | Soak | Season]] = {
    shape.name: shape for shape in (Steady, Ramp, Spike, Step, Soak, Season)
}


@dataclass(frozen=True)
class ShapeParams:
    """Shape parameters as given on the command line or in the environment (None: default)."""

    users: int | None = None
    spawn_rate: float | None = None
    duration: float | None = None
    start_users: int = 0
    spike_users: int | None = None
    spike_at: float | None = None
    spike_for: float | None = None
    spike_rate: float | None = None
    step_users: int | None = None
    step_time: float | None = None
    ramp_up: float | None = None
    spike_classes: tuple[str, ...] = ("*checkout*",)


def option_names(param: str) -> str:
    """Where a parameter comes from: '--gameday-spike-at / GAMEDAY_SPIKE_AT'."""
    return f"--gameday-{param.replace('_', '-')} / GAMEDAY_{param.upper()}"


def build_shape(name: str, params: ShapeParams) -> Shape:
    """The shape `name` with `params` and its defaults; ShapeInvalid names the bad option."""
    kind = SHAPES.get(name.strip().lower())
    if kind is None:
        raise ShapeInvalid(
            f"unknown shape {name!r} ({option_names('shape')}); choose one of "
            f"{', '.join(SHAPES)}"
        )
    _validate(params)
    p = params
    users = 1 if p.users is None else p.users
    spawn_rate = p.spawn_rate or max(1.0, float(users))
    if kind is Steady:
        return Steady(users, spawn_rate, p.duration)
    if kind is Ramp:
        return Ramp(users, p.duration or 60.0, p.start_users)
    if kind is Step:
        step_users = p.step_users or max(1, users // 5)
        step_time = p.step_time or 30.0
        duration = p.duration or math.ceil(users / step_users) * step_time
        return Step(users, step_users, step_time, duration)
    if kind is Soak:
        duration = p.duration or 3600.0
        return Soak(users, p.ramp_up or min(60.0, duration / 10), duration)
    duration = p.duration or 60.0
    spike_at = duration / 3 if p.spike_at is None else p.spike_at
    spike_for = p.spike_for or duration / 6
    if spike_at + spike_for > duration:
        raise ShapeInvalid(
            f"the spike ends at {spike_at + spike_for:g}s, after the run ({duration:g}s); lower "
            f"{option_names('spike_at')} or {option_names('spike_for')}, or raise "
            f"{option_names('duration')}"
        )
    if kind is Spike:
        spike_users = p.spike_users or 4 * users
        return Spike(
            users, spike_users, spike_at, spike_for, duration, spawn_rate,
            p.spike_rate or max(1.0, float(spike_users)),
        )  # fmt: skip
    spike_users = p.spike_users or max(1, users)
    return Season(
        users, spike_users, spike_at, spike_for, duration, spawn_rate,
        p.spike_rate or max(1.0, float(spike_users)), p.spike_classes or ALL_CLASSES,
    )  # fmt: skip


def _validate(params: ShapeParams) -> None:
    for field in fields(params):
        value = getattr(params, field.name)
        if value is None or field.name == "spike_classes":
            continue
        must_be_positive = field.name not in ("users", "start_users", "spike_users")
        if not math.isfinite(value) or value < 0 or (must_be_positive and value == 0):
            bound = "> 0" if must_be_positive else ">= 0"
            raise ShapeInvalid(f"{option_names(field.name)} must be {bound}, got {value!r}")


def tick_sequence(shape: Shape, until: float, every: float = 1.0) -> list[Tick | None]:
    """Ticks at t = 0, every, 2*every, ... up to `until` (how Locust polls, once a second)."""
    return [shape.tick(i * every) for i in range(math.floor(until / every) + 1)]


def select_classes(names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The class names among `names` matching any of `patterns` (fnmatch, case-insensitive)."""
    return [n for n in names if any(fnmatch.fnmatch(n.lower(), p.lower()) for p in patterns)]
