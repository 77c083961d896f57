"""The Locust side of `loadtests.shapes`: one LoadTestShape that plays the chosen shape.

`GamedayShape` reads --gameday-shape and its parameters (or GAMEDAY_* variables, falling back
to -u/-r/-t) on its first tick, then returns the pure shape's ticks as Locust tuples. With
no gameday option it behaves like plain Locust: -u users at -r per second for -t.
Imports Locust: load processes only.
"""

from __future__ import annotations

from locust import LoadTestShape, User

from loadtests.errors import ShapeInvalid
from loadtests.options import from_namespace
from loadtests.shapes import Shape, Tick, build_shape, option_names, select_classes

LocustTick = tuple[int, float] | tuple[int, float, list[type[User]] | None]


def resolve_shape(parsed_options: object) -> Shape:
    """The shape the command line and environment ask for (ShapeInvalid when wrong)."""
    options = from_namespace(parsed_options)
    return build_shape(options.shape, options.shape_params)


def tick_classes(tick: Tick, user_classes: list[type[User]]) -> list[type[User]] | None:
    """The Locust user classes a tick spawns (None: Locust's default, all of them)."""
    if tick.classes is None:
        return None
    by_name = {cls.__name__: cls for cls in user_classes}
    chosen = select_classes(list(by_name), tick.classes)
    if not chosen:
        raise ShapeInvalid(
            f"no user class matches {', '.join(tick.classes)} ({option_names('spike_classes')}); "
            f"the classes are {', '.join(sorted(by_name)) or 'none'}"
        )
    return [by_name[name] for name in chosen]


class GamedayShape(LoadTestShape):
    """Plays the shape chosen with --gameday-shape / GAMEDAY_SHAPE (default: steady)."""

    use_common_options = True  # -u, -r and -t are read as defaults, not ignored

    def __init__(self) -> None:
        super().__init__()
        self._shape: Shape | None = None

    def reset_time(self) -> None:
        """Restart the clock and re-read the options (the web UI may have changed them)."""
        super().reset_time()
        self._shape = None

    def tick(self) -> LocustTick | None:
        runner = self.runner
        assert runner is not None, "Locust sets the runner before the first tick"
        if self._shape is None:
            self._shape = resolve_shape(runner.environment.parsed_options)
        tick = self._shape.tick(self.get_run_time())
        if tick is None:
            return None
        classes = tick_classes(tick, list(runner.user_classes))
        if classes is None:
            return (tick.users, tick.spawn_rate)
        return (tick.users, tick.spawn_rate, classes)
