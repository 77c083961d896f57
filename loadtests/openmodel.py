"""An open-model (arrival-rate) Locust user: latency measured from the intended start.

    class Checkout(OpenModelHttpUser):
        rate = 20            # arrivals per second, per user instance
        max_in_flight = 200  # arrivals still running before new ones are dropped (and counted)
        journey = "checkout"

        def arrival(self) -> None:
            self.client.post("/cart", json={"sku": "A1"})
            self.client.post("/orders")

Every `1/rate` seconds the user starts `arrival()` in a new greenlet, whether or not the
previous ones have returned. Each arrival is one Locust request event of type JOURNEY named
after the journey, whose response time runs from the *intended* start to the end of the
arrival: a server stall therefore shows up in every arrival that should have started during
it (see `loadtests.arrivals` for why). The requests inside an arrival are folded into that
one event (their first failure fails it) instead of being reported one by one.

When `max_in_flight` arrivals are still running, the next ones are dropped: not sent, not a
Locust request, but counted per second in the samples (`dropped`, part of the SLO error
rate) and logged. Arrivals that start more than `late_after` seconds after their intended
time (a starved load generator) are counted as `late`.

Importing this module imports Locust (and gevent's monkey-patching): load processes only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gevent
from gevent.pool import Group
from locust import HttpUser, User, constant, task
from locust.env import Environment
from locust.event import EventHook
from locust.exception import StopTest, StopUser
from locust.user.task import LOCUST_STATE_STOPPING

from loadtests.arrivals import ArrivalSchedule, check_rate, is_late

logger = logging.getLogger(__name__)

REQUEST_TYPE = "JOURNEY"
DROPPED_EVENT = "gameday_arrival_dropped"


def arrival_dropped_hook(environment: Environment) -> EventHook:
    """The event fired (journey=, intended_start=, in_flight=) when an arrival is dropped."""
    hook = getattr(environment.events, DROPPED_EVENT, None)
    if not isinstance(hook, EventHook):
        hook = EventHook()
        setattr(environment.events, DROPPED_EVENT, hook)
    return hook


@dataclass
class _Arrival:
    requests: int = 0
    response_length: int = 0
    exception: BaseException | None = None
    trace_ids: list[str] = field(default_factory=list)  # sampled traces of its requests


class _ArrivalRequests(EventHook):
    """Stands in for a client's request event: folds an arrival's requests into the arrival."""

    def __init__(self, user: OpenModelUser, passthrough: EventHook) -> None:
        super().__init__()
        self._user = user
        self._passthrough = passthrough

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None:
        arrival = self._user._arrivals.get(gevent.getcurrent())
        if arrival is None:  # a request outside any arrival (on_start, say): report as usual
            self._passthrough.fire(reverse=reverse, **kwargs)
            return
        arrival.requests += 1
        arrival.response_length += int(kwargs.get("response_length") or 0)
        context = kwargs.get("context")
        if isinstance(context, dict) and isinstance(context.get("trace_id"), str):
            arrival.trace_ids.append(context["trace_id"])
        if arrival.exception is None and kwargs.get("exception") is not None:
            arrival.exception = kwargs["exception"]


class OpenModelUser(User):
    """Starts `arrival()` `rate` times a second on a fixed schedule; subclass and define it."""

    abstract = True
    rate: ClassVar[float] = 1.0
    max_in_flight: ClassVar[int] = 100
    late_after: ClassVar[float] = 0.05
    journey: ClassVar[str | None] = None
    wait_time = constant(0)
    _warned_drops: ClassVar[set[str]] = set()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.tasks != [OpenModelUser._schedule_arrivals]:
            raise TypeError(
                f"{cls.__name__} is an OpenModelUser: define its work in arrival(), "
                "not in @task methods or `tasks` (the schedule is its only task)"
            )

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        check_rate(self.rate, self.max_in_flight, type(self).__name__)
        self._arrivals: dict[gevent.Greenlet, _Arrival] = {}
        self._in_flight = Group()
        self._stop_requested = False
        client = getattr(self, "client", None)
        if isinstance(getattr(client, "request_event", None), EventHook):
            client.request_event = _ArrivalRequests(self, client.request_event)  # type: ignore[union-attr]

    @property
    def journey_name(self) -> str:
        """The journey this user's arrivals are reported as (default: the class name)."""
        return self.journey or type(self).__name__

    def arrival(self) -> None:
        """One arrival: the requests a newly arrived user makes. Override this."""
        raise NotImplementedError(
            f"{type(self).__name__} must define arrival(self) with the requests of one arrival"
        )

    @task
    def _schedule_arrivals(self) -> None:
        clock_offset = time.time() - time.perf_counter()
        schedule = ArrivalSchedule(self.rate, time.perf_counter())
        try:
            while self._state != LOCUST_STATE_STOPPING and not self._stop_requested:
                delay = schedule.next_due() - time.perf_counter()
                if delay > 0:
                    gevent.sleep(min(delay, 0.5))  # a slow rate still notices a stop soon
                    continue
                intended = schedule.advance()
                if len(self._in_flight) >= self.max_in_flight:
                    self._drop(intended + clock_offset)
                    continue
                self._in_flight.spawn(self._arrive, intended, intended + clock_offset)
            self._in_flight.join()
        finally:
            self._in_flight.kill(block=False)
        if self._stop_requested:
            raise StopUser()

    def _drop(self, intended_wall: float) -> None:
        journey = self.journey_name
        if journey not in self._warned_drops:
            self._warned_drops.add(journey)
            logger.warning(
                "%s: %d arrivals still running (max_in_flight); dropping new arrivals and "
                "counting them as dropped. The system answers slower than rate x latency "
                "allows: raise max_in_flight or lower the rate",
                journey,
                self.max_in_flight,
            )
        arrival_dropped_hook(self.environment).fire(
            journey=journey, intended_start=intended_wall, in_flight=len(self._in_flight)
        )

    def _arrive(self, intended: float, intended_wall: float) -> None:
        me = gevent.getcurrent()
        arrival = self._arrivals[me] = _Arrival()
        started = time.perf_counter()
        exception: BaseException | None = None
        try:
            self.arrival()
        except StopUser:
            self._stop_requested = True
            return
        except StopTest:
            self._stop_requested = True
            if self.environment.runner is not None:
                gevent.spawn(self.environment.runner.quit)
            return
        except Exception as exc:
            exception = exc
            self.environment.events.user_error.fire(
                user_instance=self, exception=exc, tb=exc.__traceback__
            )
            logger.error("%s: arrival raised %r", self.journey_name, exc, exc_info=exc)
        finally:
            del self._arrivals[me]
        ended = time.perf_counter()
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=self.journey_name,
            response_time=(ended - intended) * 1000.0,
            response_length=arrival.response_length,
            response=None,
            exception=exception or arrival.exception,
            start_time=intended_wall,
            url=None,
            context={
                **self.context(),
                "journey": self.journey_name,
                "intended_start": intended_wall,
                "late": is_late(intended, started, self.late_after),
                "service_time": (ended - started) * 1000.0,
                "requests": arrival.requests,
                "trace_ids": arrival.trace_ids,
            },
        )


class OpenModelHttpUser(OpenModelUser, HttpUser):
    """An OpenModelUser with Locust's HTTP client as `self.client`."""

    abstract = True
