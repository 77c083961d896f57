"""Requests that fail with HTTP 500 (the test server fails every /fail path)."""

from locust import HttpUser, constant, task

from loadtests.plugin import *  # noqa: F403


class Broken(HttpUser):
    wait_time = constant(0.05)

    @task
    def fail(self) -> None:
        self.client.get("/fail", name="broken")


class BrokenArrivals(OpenModelHttpUser):  # noqa: F405
    rate = 10
    journey = "broken-open"

    def arrival(self) -> None:
        self.client.get("/fail/again")
