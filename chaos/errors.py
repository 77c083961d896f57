"""The exception tree of gameday's chaos package.

    GamedayError
    ├── ConfigInvalid            a system or experiment file is wrong (names file:line and fix)
    │   ├── SystemFileInvalid
    │   └── ExperimentInvalid
    ├── FaultInjectionError      a fault could not be applied or removed
    ├── ProxyError               the Toxiproxy API refused a request or is unreachable
    └── RuntimeFailure           a process of the system under test failed to start or stop
"""

from __future__ import annotations


class GamedayError(Exception):
    """Root of every error gameday raises on purpose."""


class ConfigInvalid(GamedayError):
    """A configuration file is wrong; the message names file:line, the value and the fix."""


class SystemFileInvalid(ConfigInvalid):
    """The system file (system.yaml) is wrong."""


class ExperimentInvalid(ConfigInvalid):
    """An experiment file is wrong."""


class FaultInjectionError(GamedayError):
    """A fault could not be applied or removed."""


class ProxyError(GamedayError):
    """The Toxiproxy API refused a request or could not be reached."""


class RuntimeFailure(GamedayError):
    """A process of the system under test failed to start, become ready or stop."""
