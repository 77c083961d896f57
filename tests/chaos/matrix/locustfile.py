"""Open-model load for the matrix tests: three journeys at a fixed arrival rate each."""

from loadtests.plugin import *  # noqa: F403


class Local(OpenModelHttpUser):  # noqa: F405
    rate = 15
    journey = "local"

    def arrival(self) -> None:
        self.client.get("/local")


class A(OpenModelHttpUser):  # noqa: F405
    rate = 15
    journey = "a"
    max_in_flight = 200

    def arrival(self) -> None:
        self.client.get("/a")


class B(OpenModelHttpUser):  # noqa: F405
    rate = 15
    journey = "b"
    max_in_flight = 200

    def arrival(self) -> None:
        self.client.get("/b")
