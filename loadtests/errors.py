"""The exception tree of gameday's loadtests package.

    LoadtestError
    ├── SloInvalid          an SLO thresholds file is wrong (names file:line, the value and the fix)
    ├── ShapeInvalid        a load shape or its parameters are wrong
    ├── ArrivalRateInvalid  an open-model user is configured with an impossible rate or bound
    ├── LoadSpecInvalid     a load to start (loadtests.runner) is described wrongly
    └── SamplesInvalid      a samples file cannot be read (names file:line)

The package stands alone (chaos/ imports it, never the reverse), so it has its own root.
"""

from __future__ import annotations


class LoadtestError(Exception):
    """Root of every error the loadtests package raises on purpose."""


class SloInvalid(LoadtestError):
    """An SLO thresholds file is wrong; the message names file:line, the value and the fix."""


class ShapeInvalid(LoadtestError):
    """A load shape name or one of its parameters is wrong."""


class ArrivalRateInvalid(LoadtestError):
    """An open-model user has a rate or concurrency bound that cannot be scheduled."""


class LoadSpecInvalid(LoadtestError):
    """A load to start (loadtests.runner.LoadSpec) names a missing file or a bad value."""


class SamplesInvalid(LoadtestError):
    """A samples file has a line that is not a gameday sample."""
