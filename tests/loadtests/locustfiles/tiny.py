"""A tiny locustfile for the loadtests tests: one closed user, one open-model user."""

from locust import HttpUser, constant, task

from loadtests.plugin import *  # noqa: F403


class Browse(HttpUser):
    wait_time = constant(0.05)

    @task
    def home(self) -> None:
        self.client.get("/", name="browse")


class Checkout(OpenModelHttpUser):  # noqa: F405
    rate = 20
    journey = "checkout"

    def arrival(self) -> None:
        self.client.get("/cart")
        self.client.post("/orders")
