"""Open-model load for the runner tests: two journeys at a fixed arrival rate each."""

from loadtests.plugin import *  # noqa: F403


class Fast(OpenModelHttpUser):  # noqa: F405
    rate = 15
    journey = "fast"

    def arrival(self) -> None:
        self.client.get("/fast")


class Dep(OpenModelHttpUser):  # noqa: F405
    rate = 15
    journey = "dep"
    max_in_flight = 200

    def arrival(self) -> None:
        self.client.get("/dep")
