"""Everything gameday adds to a locustfile, with one import.

    from loadtests.plugin import *  # GamedayShape, OpenModelUser, OpenModelHttpUser

Importing this module (and only this one) registers listeners on `locust.events`:

- the --gameday-* command line options (and GAMEDAY_* variables), see `loadtests.options`;
- at init: options, shape and SLO file are validated before any load starts (a mistake
  exits with code 2 and a message naming the option or file:line), then a `Recorder` is
  attached that writes per-second samples to the run directory and, at quit, exits 99
  when an SLO threshold is breached;
- with --gameday-trace-ratio, every HTTP request carries a W3C trace context made up by the
  load, a fraction of it sampled (`loadtests.tracing`);
- during a headless shape run, SIGTERM stops the load like Ctrl-C (Locust's own handler
  comes only after the shape has finished).

`GamedayShape` is exported so that Locust finds it in the locustfile: without gameday
options it plays `steady`, i.e. plain Locust's -u/-r/-t.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests import tracing
from loadtests.errors import LoadtestError
from loadtests.locust_shapes import GamedayShape, resolve_shape, tick_classes
from loadtests.openmodel import OpenModelHttpUser, OpenModelUser
from loadtests.options import add_arguments, from_namespace
from loadtests.recorder import Recorder
from loadtests.shapes import Season, Tick
from loadtests.slo import load_slo

__all__ = ["GamedayShape", "OpenModelHttpUser", "OpenModelUser"]

logger = logging.getLogger(__name__)
EXIT_CONFIG = 2


def validate(environment: Environment) -> None:
    """Check shape options, season classes and the SLO file; raise LoadtestError if wrong."""
    options = environment.parsed_options
    from_namespace(options)  # every --gameday-* value parses (trace ratio, durations...)
    shape = resolve_shape(options)
    if isinstance(shape, Season) and isinstance(environment.shape_class, GamedayShape):
        tick_classes(Tick(0, 1.0, shape.spike_classes), list(environment.user_classes))
    slo = getattr(options, "gameday_slo", None)
    if slo:
        load_slo(slo)


def _on_init_command_line_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


def _on_init(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):  # the master judges; workers count
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            # Started from a background job of a non-interactive shell (CI, `cmd &`), this
            # process inherits SIGINT ignored and Python then installs no KeyboardInterrupt:
            # LoadProcess.stop() and Ctrl-C would do nothing. They must stop the load.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            validate(environment)
        except LoadtestError as exc:
            logger.error("gameday: %s", exc)
            sys.exit(EXIT_CONFIG)
        if environment.shape_class is not None and getattr(
            environment.parsed_options, "headless", False
        ):
            # Locust installs its SIGTERM handler only once a headless shape run is over, so
            # until then SIGTERM would kill it before the last samples and the verdict.
            gevent.signal_handler(signal.SIGTERM, _stop_on_sigterm, environment)
    recorder = Recorder.attach(environment)
    if recorder.options.trace_ratio is not None:
        tracing.install(recorder.options.trace_ratio)


def _stop_on_sigterm(environment: Environment) -> None:
    logger.info("gameday: SIGTERM, stopping the load")
    if environment.runner is not None:
        gevent.spawn(environment.runner.quit)


events.init_command_line_parser.add_listener(_on_init_command_line_parser)
events.init.add_listener(_on_init)
