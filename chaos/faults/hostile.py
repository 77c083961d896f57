"""Hostile input as a fault: property-based requests from the public service's OpenAPI document.

    load = HostileLoad("http://127.0.0.1:8080", HostileInput(rate=10))  # fetches the document
    load.start()                # a background thread; the caller goes on (or sleeps)
    ...                         # the fault window
    report = load.stop()        # HostileReport: answers by status, 5xx and no-answer examples

Requests come from schemathesis used as a library: every operation of the document becomes
Hypothesis strategies of `Case`s in three modes — schemathesis' *positive* (whatever the schema
allows: empty and long strings, boundary values, unicode) and *negative* (wrong types, values
out of bounds, missing required parts, unknown fields), and *extreme*: positive cases from a copy
of the document whose unbounded integers only take values past 64 bits (`hostile_extremes`),
the overflow that positive mode reaches only a few times in a hundred. Every (operation, mode)
pair gets its turn in round robin, in an order shuffled per round: whatever the window, each
pair is sent once within any run of as many requests as there are pairs (a fault window is
seconds long: a rare mode left to chance, like a bug only the extreme mode finds, is a bug
found in one run and missed in the next). Cases come from Hypothesis, a few per pair at a time
(about `BATCH` a batch), each batch reseeded, so memory stays bounded however long the load
runs; a fixed `seed` makes the whole sequence repeatable. Requests are spaced at least
`1/rate` seconds apart, go only to the given base URL on loopback and never follow redirects.

After every round the latest request refused with a 404, 409 or 410 — decided by looking
something up, often in a dependency, where 400/422 (validation), 401/403 (credentials) and 429
(its rate limit) are the edge's own refusals — is sent again `burst` times at once, as a
client that retries a refused request in parallel would. One refusal says nothing about a
dependency's health, and a burst of them must not open its circuit breaker (a breaker that
counts refusals as failures does, and everybody else then gets 503s). A burst counts against
the rate: it waits for `burst/rate` seconds of quiet first.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import hypothesis
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning, Unsatisfiable
from schemathesis.core import NotSet
from schemathesis.core.result import Ok

from chaos.errors import FaultInjectionError
from chaos.faults.hostile_extremes import extreme_document
from chaos.faults.hostile_report import BODY_CHARS, Exchange, HostileReport, HostileTally
from chaos.net import is_loopback
from chaos.system.model import HostileInput

EXTREME = "extreme"  # the third generation mode, see chaos.faults.hostile_extremes
# Cases per batch, about. They are generated first and sent after, outside Hypothesis: while
# it runs an example Hypothesis seeds the process-wide `random`, which other threads of this
# process (trace ids, jitter) must not notice for longer than generating takes. Each run is
# reseeded, so what Hypothesis remembers of its tries stays bounded however long the load runs.
BATCH = 25
# Refusals decided by looking something up, often in a dependency: repeated in bursts. The
# edge's own refusals (400/422 validation, 401/403 credentials, 429 its rate limit) are not.
LOOKUP_REFUSALS = frozenset({404, 409, 410})
FIX = "set matrix.hostile_input.openapi in the system file to the path of its OpenAPI document"


class Pacer:
    """Spaces events at least `1/rate` s apart: never more than `rate` per second, no bursts
    beyond the ones asked for, and those only after as much quiet as they use up."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError(f"rate {rate!r} must be more than 0 per second")
        self.interval = 1.0 / rate
        self._clock = clock
        self._last: float | None = None

    def delay(self, count: int = 1) -> float:
        """Seconds to wait before `count` events may happen at once (0 when they may now)."""
        if self._last is None:
            return 0.0 if count == 1 else self.interval * (count - 1)
        return max(0.0, self._last + self.interval * count - self._clock())

    def happened(self) -> None:
        """Record that the event(s) happened now."""
        self._last = self._clock()


class HostileLoad:
    """Hostile requests at a public service in a background thread, until `stop()`."""

    def __init__(
        self,
        base_url: str,
        settings: HostileInput,
        *,
        seed: int | None = None,
        timeout: float = 5.0,
        max_requests: int | None = None,
    ) -> None:
        """Check the base URL and load the OpenAPI document now, before any fault window."""
        self.base_url = _loopback_base(base_url)
        self.settings = settings
        self.seed = seed
        self.timeout = timeout
        self.max_requests = max_requests
        if not settings.rate > 0:
            raise FaultInjectionError(
                f"hostile input rate {settings.rate!r} must be more than 0 requests per second; "
                "set matrix.hostile_input.rate in the system file, e.g. 10"
            )
        self._pacer = Pacer(settings.rate)
        self.document_url = self.base_url + settings.openapi
        document = _fetch_document(self.document_url, dict(settings.headers), timeout)
        operations = _operations(document, self.document_url)
        if not operations:
            raise FaultInjectionError(
                f"the OpenAPI document at {self.document_url} has no operation to send "
                f"hostile input to; {FIX}"
            )
        extreme, reached = extreme_document(document)
        extremes = [
            op
            for op in _operations(extreme, self.document_url)
            if (op.method.upper(), op.path) in reached
        ]
        self.operations = tuple(op.label for op in operations)
        self.skipped: dict[str, str] = {}  # "GET /x negative" -> why it cannot be generated
        cases = [(op, mode.value) for op in operations for mode in schemathesis.GenerationMode]
        cases += [(op, EXTREME) for op in extremes]
        strategies = dict(self._strategies(cases))
        if not strategies:
            raise FaultInjectionError(
                f"no request can be generated from the OpenAPI document at {self.document_url}: "
                + "; ".join(f"{mode}: {why}" for mode, why in self.skipped.items())
            )
        self.modes = tuple(strategies)  # the pairs sent in turn: "GET /x positive", ...
        self._strategies_by_mode = strategies
        self._tally = HostileTally(self.operations)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._ended: float | None = None
        self._error: str | None = None
        self._sent = 0
        self._refused: Any | None = None  # the latest case refused with a LOOKUP_REFUSALS status
        self._bursts = 0

    def start(self) -> None:
        """Start sending in a daemon thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError("this hostile load was started already; make a new one")
        # schemathesis' negative strategies touch the `random` module, which Hypothesis
        # deprecates; nothing a gameday user could act on, so it is not shown to them.
        warnings.filterwarnings(
            "ignore", "Do not use the `random` module inside strategies", HypothesisWarning
        )
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="gameday-hostile", daemon=True)
        self._thread.start()

    def stop(self) -> HostileReport:
        """Stop sending (an answer in flight is awaited, at most `timeout`) and report."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5.0)
        return self.report()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the load ended by itself (max_requests or an error); True if it did."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is not None and not self._thread.is_alive()

    def report(self) -> HostileReport:
        """What the load has met so far (may be called while it runs)."""
        end = self._ended if self._ended is not None else time.monotonic()
        seconds = end - self._started if self._thread is not None else 0.0
        return self._tally.report(
            base_url=self.base_url,
            seconds=seconds,
            rate=self.settings.rate,
            skipped=dict(self.skipped),
            error=self._error,
            bursts=self._bursts,
        )

    def __enter__(self) -> HostileLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _strategies(
        self, cases: list[tuple[Any, str]]
    ) -> Iterator[tuple[str, st.SearchStrategy[Any]]]:
        # A mode an operation cannot have (nothing to make invalid in GET /healthz) would make
        # Hypothesis reject every draw of it, so each pair is tried once first, as schemathesis'
        # own fuzzer does.
        for operation, mode in cases:
            generation = schemathesis.GenerationMode("positive" if mode == EXTREME else mode)
            strategy = operation.as_strategy(generation_mode=generation)
            try:
                self._hypothesis(strategy, 1, lambda case: None, self.seed)()
            except Unsatisfiable:
                continue
            except Exception as exc:
                self.skipped[f"{operation.label} {mode}"] = _one_line(exc)
                continue
            yield f"{operation.label} {mode}", strategy

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment: the requests stay on loopback
        batch = 0
        try:
            while not self._stop.is_set():
                cases = self._generate(batch)
                for number, case in enumerate(cases, start=1):
                    if not self._pace(1):
                        return
                    if self._send(session, case) in LOOKUP_REFUSALS:
                        self._refused = case  # (a burst's own answers never set it)
                    if number % len(self.modes) == 0 and not self._repeat_refused():
                        return
                if not cases:
                    return
                batch += 1
        finally:
            self._ended = time.monotonic()
            session.close()

    def _pace(self, count: int) -> bool:
        """Wait until `count` more requests may go; False when the load must end instead."""
        if self.max_requests is not None and self._sent + count > self.max_requests:
            return False
        if self._stop.wait(self._pacer.delay(count)):
            return False
        self._pacer.happened()
        return True

    def _repeat_refused(self) -> bool:
        """Send the latest refused case `burst` times at once; False when the load must end."""
        case, burst = self._refused, self.settings.burst
        if case is None or burst < 2:
            return True
        if self.max_requests is not None and self._sent + burst > self.max_requests:
            return True  # no room for a burst: the single requests go on
        if not self._pace(burst):
            return False
        self._refused = None
        self._bursts += 1

        def one(_: int) -> None:
            with requests.Session() as session:
                session.trust_env = False
                self._send(session, case)

        with ThreadPoolExecutor(burst, thread_name_prefix="gameday-hostile-burst") as pool:
            list(pool.map(one, range(burst)))
        return True

    def _generate(self, batch: int) -> list[Any]:
        """The next batch: a few cases of every pair, sent one round (each pair once) at a time.

        Each pair's cases come from a Hypothesis run of their own, reseeded per batch and pair;
        the pairs' order is shuffled per round (by the seed, when there is one).
        """
        per_pair = max(1, math.ceil(BATCH / len(self.modes)))
        drawn: list[list[Any]] = []
        failures: list[str] = []
        for index, strategy in enumerate(self._strategies_by_mode.values()):
            cases: list[Any] = []
            seed = None if self.seed is None else (self.seed + batch) * 1000 + index
            try:
                self._hypothesis(strategy, per_pair, _collector(cases), seed)()
            except Exception as exc:  # a generation failure: send what came before it
                failures.append(_one_line(exc))
            drawn.append(cases)
        if not any(drawn) and failures:
            self._error = f"generating requests failed: {failures[0]}"
        order = random.Random(None if self.seed is None else self.seed + batch)
        rounds: list[Any] = []
        for turn in range(per_pair):
            this_round = [cases[turn] for cases in drawn if turn < len(cases)]
            order.shuffle(this_round)
            rounds += this_round
        return rounds

    def _send(self, session: requests.Session, case: Any) -> int | None:
        """Send `case`, tally the answer; its status, None when there was none."""
        with self._lock:
            self._sent += 1
        sent = dict(method=case.method.upper(), path=case.path, request_body=_request_body(case))
        try:
            response = case.call(
                base_url=self.base_url,
                session=session,
                headers=dict(self.settings.headers),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            url = exc.request.url if exc.request is not None else self.base_url + case.path
            self._tally.unanswered(Exchange(url=str(url), error=_one_line(exc), **sent))
            return None
        except Exception as exc:  # schemathesis could not build it: not the service's doing
            self.skipped[f"{case.operation.label} (sending)"] = _one_line(exc)
            return None
        text = response.content[: BODY_CHARS * 4].decode(errors="replace")[:BODY_CHARS]
        url = str(response.request.url)
        self._tally.answered(Exchange(url=url, status=response.status_code, body=text, **sent))
        return int(response.status_code)

    @staticmethod
    def _hypothesis(
        strategy: st.SearchStrategy[Any],
        examples: int,
        test: Callable[..., None],
        seed: int | None,
    ) -> Callable[[], None]:
        run = hypothesis.settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )(given(case=strategy)(test))
        return run if seed is None else hypothesis.seed(seed)(run)


def _collector(cases: list[Any]) -> Callable[..., None]:
    """A test for Hypothesis that keeps every case it is given in `cases`."""

    def keep(case: Any) -> None:
        cases.append(case)

    return keep


def _loopback_base(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FaultInjectionError(
            f"hostile input needs the public service's base URL, like http://127.0.0.1:8080; "
            f"got {base_url!r}"
        )
    if not is_loopback(parts.hostname):
        raise FaultInjectionError(
            f"hostile input goes only to a service on this machine (loopback); {base_url!r} "
            f"names host {parts.hostname!r}: run the system locally or attach to `gameday up`"
        )
    return base_url.rstrip("/")


def _fetch_document(url: str, headers: dict[str, str], timeout: float) -> dict[str, Any]:
    try:
        answer = httpx.get(url, headers=headers, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        raise FaultInjectionError(
            f"cannot fetch the OpenAPI document at {url}: {_one_line(exc)}; is the public "
            f"service running there? If it serves its document elsewhere, {FIX}"
        ) from exc
    if answer.status_code != 200:
        raise FaultInjectionError(
            f"the OpenAPI document at {url} answered {answer.status_code}, not 200; {FIX} "
            f"(and matrix.hostile_input.headers if it needs an API key)"
        )
    try:
        document = (
            yaml.safe_load(answer.text)
            if "yaml" in answer.headers.get("content-type", "")
            else json.loads(answer.text)
        )
    except (ValueError, yaml.YAMLError) as exc:
        raise FaultInjectionError(
            f"{url} did not answer with an OpenAPI document (JSON or YAML): {_one_line(exc)}; {FIX}"
        ) from exc
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise FaultInjectionError(f"{url} answered {kind}, not an OpenAPI document; {FIX}")
    return document


def _operations(document: dict[str, Any], url: str) -> list[Any]:
    """The operations of `document` that schemathesis can generate requests for."""
    try:
        schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
        return [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    except schemathesis.errors.SchemathesisError as exc:
        raise FaultInjectionError(
            f"the document at {url} is not an OpenAPI document schemathesis can use: "
            f"{_one_line(exc)}; {FIX}"
        ) from exc


def _request_body(case: Any) -> str | None:
    body = case.body
    if isinstance(body, NotSet):
        return None
    text = body if isinstance(body, str) else json.dumps(body, default=repr)
    return text[:BODY_CHARS]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
