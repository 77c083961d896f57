"""Open-model load for the plugin tests: one user class per journey, its rate from the env."""

import os

from loadtests.plugin import *  # noqa: F403


class Fast(OpenModelHttpUser):  # noqa: F405
    rate = float(os.environ.get("DUO_RATE_FAST", "10"))
    journey = "fast"

    def arrival(self) -> None:
        self.client.get("/fast")


class Dep(OpenModelHttpUser):  # noqa: F405
    rate = float(os.environ.get("DUO_RATE_DEP", "10"))
    journey = "dep"
    max_in_flight = 200

    def arrival(self) -> None:
        self.client.get("/dep")
