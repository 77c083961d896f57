"""gameday's options for the `locust` command line, each also read from a GAMEDAY_* variable.

    locust -f locustfile.py --headless --gameday-shape spike --gameday-users 10 \\
        --gameday-slo slo.yaml --gameday-run-dir .gameday/runs/demo
    GAMEDAY_SHAPE=spike GAMEDAY_USERS=10 locust -f locustfile.py --headless

Shape options left out fall back to Locust's own -u/--users, -r/--spawn-rate and
-t/--run-time. Values stay strings on the command line (workers receive them from the
master as they are) and are parsed here, so a bad one is named with its option and variable.
Pure: takes any argparse-compatible parser that accepts `env_var` (Locust's does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from loadtests.errors import ShapeInvalid
from loadtests.shapes import SHAPES, ShapeParams, option_names
from loadtests.units import parse_duration

RUNS_ROOT = Path(".gameday") / "runs"

_SHAPE_HELP: dict[str, str] = {
    "users": "users to hold (peak for ramp/step; base for spike/season); default: -u",
    "spawn_rate": "users started per second; default: -r, else as fast as the users count",
    "duration": "whole run, e.g. 90s or 5m; default: -t (steady), 60s (ramp/spike/season), "
    "one step per level (step), 1h (soak)",
    "start_users": "ramp: users at the start (default 0)",
    "spike_users": "spike: users during the spike; season: extra checkout users",
    "spike_at": "spike/season: when the spike starts, e.g. 20s (default duration/3)",
    "spike_for": "spike/season: how long it lasts, e.g. 10s (default duration/6)",
    "spike_rate": "spike/season: users started per second into the spike",
    "step_users": "step: users added per step (default users/5)",
    "step_time": "step: seconds per step, e.g. 30s",
    "ramp_up": "soak: seconds to reach users (default min(60s, duration/10))",
    "spike_classes": "season: comma-separated user class patterns that spike (default *checkout*)",
}
_INTS = {"users", "start_users", "spike_users", "step_users"}
_DURATIONS = {"duration", "spike_at", "spike_for", "step_time", "ramp_up"}


@dataclass(frozen=True)
class GamedayOptions:
    """Everything the gameday plugin needs from the command line and environment."""

    run_dir: Path
    slo: Path | None = None
    shape: str = "steady"
    shape_params: ShapeParams = field(default_factory=ShapeParams)
    trace_ratio: float | None = None  # None: requests carry no trace context from the load


def add_arguments(parser: Any) -> None:
    """Register the --gameday-* options (with GAMEDAY_* variables) on a Locust parser."""
    group = parser.add_argument_group(
        "gameday", "Load shapes, SLO thresholds and per-second samples (loadtests.plugin)"
    )
    group.add_argument(
        "--gameday-run-dir",
        env_var="GAMEDAY_RUN_DIR",
        default=None,
        help="directory for samples.jsonl and slo-verdict.json (default: .gameday/runs/<time>)",
    )
    group.add_argument(
        "--gameday-slo",
        env_var="GAMEDAY_SLO",
        default=None,
        help="SLO thresholds YAML; a breach makes locust exit with code 99",
    )
    group.add_argument(
        "--gameday-trace-ratio",
        env_var="GAMEDAY_TRACE_RATIO",
        default=None,
        help="send a W3C traceparent with every request, this fraction (0-1) sampled; the "
        "sampled trace ids are recorded with the samples (default: no trace context)",
    )
    group.add_argument(
        "--gameday-shape",
        env_var="GAMEDAY_SHAPE",
        default="steady",
        help=f"load shape: {', '.join(SHAPES)} (default steady)",
    )
    for param, text in _SHAPE_HELP.items():
        group.add_argument(
            f"--gameday-{param.replace('_', '-')}",
            env_var=f"GAMEDAY_{param.upper()}",
            default=None,
            help=text,
        )


def from_namespace(options: Any, *, now: Callable[[], float] = time.time) -> GamedayOptions:
    """Typed options from Locust's parsed options; ShapeInvalid names a bad option."""
    values: dict[str, Any] = {}
    for spec in fields(ShapeParams):
        raw = getattr(options, f"gameday_{spec.name}", None)
        if raw is None or raw == "":
            continue
        values[spec.name] = _parse(spec.name, raw)
    fallbacks = {
        "users": getattr(options, "num_users", None),
        "spawn_rate": getattr(options, "spawn_rate", None),
        "duration": getattr(options, "run_time", None),
    }
    for name, value in fallbacks.items():
        if name not in values and value is not None:
            values[name] = value
    run_dir = getattr(options, "gameday_run_dir", None)
    slo = getattr(options, "gameday_slo", None)
    return GamedayOptions(
        run_dir=Path(run_dir) if run_dir else default_run_dir(now()),
        slo=Path(slo) if slo else None,
        shape=str(getattr(options, "gameday_shape", None) or "steady"),
        shape_params=ShapeParams(**values),
        trace_ratio=_trace_ratio(getattr(options, "gameday_trace_ratio", None)),
    )


def _trace_ratio(raw: object) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ShapeInvalid(
            f"--gameday-trace-ratio / GAMEDAY_TRACE_RATIO: {raw!r} is not a fraction between 0 "
            "and 1; write e.g. 0.2 (one request in five traced)"
        )
    return value


def default_run_dir(now: float) -> Path:
    """.gameday/runs/load-<UTC time> for runs that did not name a directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return RUNS_ROOT / f"load-{stamp}"


def _parse(name: str, raw: object) -> Any:
    try:
        if name == "spike_classes":
            patterns = tuple(p.strip() for p in str(raw).split(",") if p.strip())
            if not patterns:
                raise ValueError("no class pattern given")
            return patterns
        if name in _INTS:
            return int(str(raw).strip())
        if name in _DURATIONS:
            return parse_duration(raw)
        return float(str(raw).strip())
    except ValueError as exc:
        example = {"spike_classes": "CheckoutUser,*Cart*"}.get(
            name, "10" if name in _INTS else "30s" if name in _DURATIONS else "2.5"
        )
        raise ShapeInvalid(
            f"{option_names(name)}: {raw!r} is not valid ({exc}); write e.g. {example}"
        ) from None
