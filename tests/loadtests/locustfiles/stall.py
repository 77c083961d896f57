"""Coordinated omission side by side: a closed Locust user and an open-model user."""

from locust import HttpUser, constant, task

from loadtests.plugin import OpenModelHttpUser


class Closed(HttpUser):
    fixed_count = 1
    wait_time = constant(0.005)

    @task
    def get(self) -> None:
        self.client.get("/", name="closed")


class Open(OpenModelHttpUser):
    fixed_count = 1
    rate = 50
    journey = "open"

    def arrival(self) -> None:
        self.client.get("/")


class Bounded(OpenModelHttpUser):
    """At most 5 arrivals in flight: during the stall the rest are dropped, and counted."""

    fixed_count = 1
    rate = 20
    max_in_flight = 5
    journey = "bounded"

    def arrival(self) -> None:
        self.client.get("/")
