"""Hostile input at real services on loopback: a careless one is caught, a careful one passes."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from chaos.errors import FaultInjectionError
from chaos.faults.hostile import HostileLoad, Pacer
from chaos.net import LOOPBACK, free_port
from chaos.system.model import HostileInput
from tests.chaos.faults.hostile_apps import careful_app, careless_app, touchy_app
from tests.support import serve_in_thread

FAST = HostileInput(rate=200.0)  # faster than generation: the count bounds these runs


@pytest.fixture(scope="module")
def careless() -> Iterator[str]:
    with serve_in_thread(careless_app()) as url:
        yield url


@pytest.fixture(scope="module")
def careful() -> Iterator[str]:
    with serve_in_thread(careful_app()) as url:
        yield url


def run(
    url: str, settings: HostileInput = FAST, *, requests: int = 60, timeout: float = 5.0
) -> HostileLoad:
    load = HostileLoad(url, settings, seed=1, max_requests=requests, timeout=timeout)
    load.start()
    assert load.wait(timeout=60), "the load did not end after its max_requests"
    return load


def test_bad_input_that_breaks_a_service_is_caught_with_examples(careless: str) -> None:
    load = run(careless)
    report = load.stop()

    assert not report.passed
    assert report.sent == 60
    assert report.server_errors > 0 and report.statuses[500] == report.server_errors
    example = report.server_error_examples[0]
    assert example.status == 500 and example.body == "Internal Server Error"
    assert example.operation in report.operations
    assert example.url.startswith(careless + example.path.split("{")[0])
    assert report.problems and "were 5xx" in report.problems[0]
    assert report.operations[example.operation].server_errors > 0
    # The unbounded `offset` overflows SQLite: what the extreme mode is for.
    assert "GET /items extreme" in load.modes
    assert report.operations["GET /items"].server_errors > 0


@pytest.mark.parametrize("seed", [3, 4, 5, None])
def test_every_mode_of_every_operation_is_sent_within_the_first_round(
    careless: str, seed: int | None
) -> None:
    """A bug only one mode reaches is found in as many requests as there are pairs, every time."""
    probe = HostileLoad(careless, FAST, seed=seed)
    load = HostileLoad(careless, FAST, seed=seed, max_requests=len(probe.modes))
    load.start()
    assert load.wait(timeout=60)
    report = load.stop()

    assert report.sent == len(load.modes) == 7  # 3 operations x 2 modes, and GET /items extreme
    assert report.operations["GET /items"].server_errors > 0  # only the extreme mode breaks it


def test_a_service_that_validates_its_input_passes(careful: str) -> None:
    load = run(careful)
    report = load.stop()

    assert report.passed, report.problems
    assert report.sent == 60
    assert report.classes.get("4xx", 0) > 0  # bad input was sent, and refused as it should be
    assert report.classes.get("2xx", 0) > 0  # and good input got through
    assert set(report.operations) == {"GET /healthz", "GET /items", "POST /items"}
    assert "GET /items negative" in load.modes and "GET /healthz negative" not in load.modes
    assert not [mode for mode in load.modes if mode.endswith("extreme")]  # all bounded
    assert report.problems == ()


def test_a_seed_makes_the_load_repeatable(careless: str) -> None:
    first = run(careless, requests=30).stop().to_json()
    second = run(careless, requests=30).stop().to_json()

    for report in (first, second):
        del report["seconds"]
    assert first == second
    json.dumps(first)  # JSON-ready for the journal


def test_the_rate_is_a_ceiling(careful: str) -> None:
    load = HostileLoad(careful, HostileInput(rate=20.0), seed=2)
    with load:
        time.sleep(1.0)
    report = load.stop()

    # At most one request per 1/rate seconds, the first at once.
    assert 1 <= report.sent <= 20.0 * report.seconds + 1


def test_a_request_without_answer_is_a_failure() -> None:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.5)
        return {}

    with serve_in_thread(app) as url:
        report = run(url, requests=3, timeout=0.1).stop()

    assert not report.passed
    assert report.no_answers == report.sent == 3
    assert "ReadTimeout" in (report.no_answer_examples[0].error or "")
    assert report.no_answer_examples[0].url == url + "/slow"
    assert "got no answer" in report.problems[0]


def test_the_process_random_is_not_seeded_while_requests_are_in_flight() -> None:
    # Hypothesis seeds the global `random` while it runs an example; requests are sent outside
    # of one, so a server (or anything else) in this process still draws fresh numbers.
    app = FastAPI()
    drawn: list[float] = []

    @app.get("/draw")
    def draw() -> dict[str, str]:
        drawn.append(random.random())
        return {}

    with serve_in_thread(app) as url:
        run(url, requests=20).stop()

    assert len(drawn) == 20 and len(set(drawn)) == 20


def test_headers_of_the_settings_go_with_every_request() -> None:
    app = careful_app()

    @app.middleware("http")
    async def api_key(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.headers.get("X-API-Key") != "k":
            return JSONResponse({"detail": "no key"}, status_code=401)
        return await call_next(request)

    with serve_in_thread(app) as url:
        with pytest.raises(FaultInjectionError, match=r"answered 401.*headers"):
            HostileLoad(url, FAST)
        report = run(url, HostileInput(rate=200.0, headers={"X-API-Key": "k"}), requests=20).stop()

    assert report.sent == 20 and 401 not in report.statuses


def test_a_rate_that_is_no_rate_is_named_with_the_fix(careful: str) -> None:
    with pytest.raises(FaultInjectionError, match=r"rate 0\.0 .*matrix\.hostile_input\.rate"):
        HostileLoad(careful, HostileInput(rate=0.0))


def test_an_unreachable_service_is_named_with_the_fix() -> None:
    url = f"http://{LOOPBACK}:{free_port()}"
    with pytest.raises(FaultInjectionError) as error:
        HostileLoad(url, FAST)
    message = str(error.value)
    assert f"{url}/openapi.json" in message and "matrix.hostile_input.openapi" in message


@pytest.mark.parametrize(
    ("serve", "complaint"),
    [
        (None, "answered 404"),
        (JSONResponse({"hello": "world"}), "not an OpenAPI document schemathesis can use"),
        (HTMLResponse("<html>docs</html>"), "did not answer with an OpenAPI document"),
        (JSONResponse(["a", "list"]), "answered list, not an OpenAPI document"),
        (JSONResponse({"openapi": "3.1.0", "info": {}, "paths": {}}), "has no operation"),
    ],
)
def test_a_missing_or_bad_openapi_document_is_named_with_the_fix(
    serve: Response | None, complaint: str
) -> None:
    app = FastAPI(openapi_url=None)
    if serve is not None:
        app.get("/openapi.json")(lambda: serve)
    with serve_in_thread(app) as url, pytest.raises(FaultInjectionError, match=complaint) as error:
        HostileLoad(url, FAST)
    assert "matrix.hostile_input.openapi" in str(error.value)


@pytest.mark.parametrize(
    "url",
    ["http://10.1.2.3:8080", "http://example.com", "https://[2001:db8::1]/", "ftp://127.0.0.1"],
)
def test_only_loopback_is_ever_a_target(url: str) -> None:
    with pytest.raises(FaultInjectionError, match=r"loopback|base URL"):
        HostileLoad(url, FAST)


def test_the_pacer_spaces_events_and_never_bursts_after_a_pause() -> None:
    now = [100.0]
    pacer = Pacer(4.0, clock=lambda: now[0])

    assert pacer.delay() == 0.0  # the first one at once
    pacer.happened()
    assert pacer.delay() == pytest.approx(0.25)
    now[0] += 0.1
    assert pacer.delay() == pytest.approx(0.15)
    now[0] += 10.0  # a long pause earns no burst: one at once, then the interval again
    assert pacer.delay() == 0.0
    pacer.happened()
    assert pacer.delay() == pytest.approx(0.25)
    # a burst of 3 waits for the quiet of 3 intervals since the last one, then goes at once
    assert pacer.delay(3) == pytest.approx(0.75)
    now[0] += 0.75
    assert pacer.delay(3) == 0.0
    pacer.happened()
    assert pacer.delay() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="more than 0"):
        Pacer(0.0)


@pytest.mark.parametrize("burst", [8, 0])
def test_a_burst_of_refusals_finds_a_breaker_that_counts_them(burst: int) -> None:
    # One at a time, the 404s of GET /items/{id} alternate with other answers and never make
    # five in a row; repeated at once, as a client retrying in parallel would, they open the
    # breaker, and the hostile requests that follow get its 503s.
    settings = HostileInput(rate=200.0, burst=burst)
    with serve_in_thread(touchy_app()) as url:
        report = run(url, settings, requests=40).stop()
    if burst:
        assert report.bursts >= 1  # (some of a burst may already meet the open breaker)
        assert report.to_json()["bursts"] == report.bursts
        assert not report.passed and report.statuses.get(503, 0) > 0, report.statuses
    else:
        assert report.bursts == 0 and report.statuses.get(404, 0) > 0
        assert report.passed, report.statuses
