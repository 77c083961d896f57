"""gameday's --gameday-* options and GAMEDAY_* variables, as Locust parses them."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import configargparse
import pytest

from loadtests.errors import ShapeInvalid
from loadtests.options import add_arguments, default_run_dir, from_namespace
from loadtests.shapes import ShapeParams


def parse(argv: list[str], env: dict[str, str]) -> Namespace:
    parser = configargparse.ArgumentParser()
    parser.add_argument("-u", "--users", dest="num_users", type=int)
    parser.add_argument("-t", "--run-time", dest="run_time", type=int)
    add_arguments(parser)
    return parser.parse_args(argv, env_vars=env)


def test_command_line_and_environment() -> None:
    ns = parse(
        ["--gameday-shape", "spike", "--gameday-spike-at", "20s", "--gameday-run-dir", "/tmp/r"],
        {"GAMEDAY_SPIKE_FOR": "1m", "GAMEDAY_USERS": "7", "GAMEDAY_SLO": "slo.yaml"},
    )
    options = from_namespace(ns)
    assert options.shape == "spike"
    assert options.run_dir == Path("/tmp/r") and options.slo == Path("slo.yaml")
    assert options.shape_params == ShapeParams(users=7, spike_at=20.0, spike_for=60.0)


def test_locust_options_are_the_fallback() -> None:
    options = from_namespace(parse(["-u", "5", "-t", "30"], {}), now=lambda: 0.0)
    assert options.shape == "steady"
    assert options.shape_params == ShapeParams(users=5, duration=30)
    assert options.run_dir == default_run_dir(0.0) == Path(".gameday/runs/load-19700101-000000")


def test_season_classes_are_a_comma_separated_list() -> None:
    ns = parse([], {"GAMEDAY_SHAPE": "season", "GAMEDAY_SPIKE_CLASSES": "Checkout*, *Cart"})
    assert from_namespace(ns).shape_params.spike_classes == ("Checkout*", "*Cart")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"GAMEDAY_USERS": "many"},
            r"--gameday-users / GAMEDAY_USERS: 'many' is not valid .*write e\.g\. 10",
        ),
        ({"GAMEDAY_SPIKE_AT": "soon"}, r"GAMEDAY_SPIKE_AT: 'soon' is not valid .*write e\.g\. 30s"),
        ({"GAMEDAY_SPIKE_CLASSES": " , "}, r"GAMEDAY_SPIKE_CLASSES: .* write e\.g\. CheckoutUser"),
    ],
)
def test_bad_values_name_option_and_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ShapeInvalid, match=message):
        from_namespace(parse([], env))
