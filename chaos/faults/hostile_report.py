"""What hostile input met: answers by status, and the 5xx answers and no-answers as examples.

A hostile request deserves a 4xx: the client sent something wrong. A 5xx answer or no answer at
all (connection refused or reset, timeout) means the service let bad input reach somewhere it
breaks — a failure of the `hostile_input` cell. `HostileTally` collects while the load runs;
its memory is bounded (counts per status code and per operation of the OpenAPI document, a
capped number of examples); `HostileReport` is the frozen result, JSON-ready for the journal.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

BODY_CHARS = 300  # of an answer's (or a request's) body kept in an example
EXAMPLES_PER_KIND = 20  # 5xx examples, and no-answer examples, kept at most
EXAMPLES_PER_OPERATION = 3  # so that one noisy operation cannot hide the others


@dataclass(frozen=True)
class Exchange:
    """One hostile request that failed: a 5xx answer (status) or no answer (error)."""

    method: str
    path: str  # the operation's path template, e.g. /api/products/{product_id}
    url: str  # the concrete URL sent, query included
    request_body: str | None  # the first BODY_CHARS characters of what was sent, if anything
    status: int | None = None  # None: no answer
    body: str = ""  # the first BODY_CHARS characters of the answer
    error: str | None = None  # why there was no answer

    @property
    def operation(self) -> str:
        """`METHOD /path/template`."""
        return f"{self.method} {self.path}"

    def describe(self) -> str:
        """One line a person can act on: what was sent and what came back."""
        outcome = f"{self.status} {self.body!r}" if self.status is not None else f"{self.error}"
        sent = f" body {self.request_body!r}" if self.request_body else ""
        return f"{self.method} {self.url}{sent} -> {outcome}"


@dataclass(frozen=True)
class OperationCounts:
    """What one operation of the OpenAPI document got: requests, 5xx answers, no answers."""

    sent: int = 0
    server_errors: int = 0
    no_answers: int = 0


@dataclass(frozen=True)
class HostileReport:
    """The outcome of a hostile load: it passed when no answer was a 5xx and none was missing."""

    base_url: str
    seconds: float  # how long the load ran
    rate: float  # the configured ceiling, requests per second
    sent: int
    statuses: Mapping[int, int]  # status code -> answers
    server_errors: int
    no_answers: int
    operations: Mapping[str, OperationCounts]  # "GET /api/products" -> counts
    server_error_examples: tuple[Exchange, ...] = ()
    no_answer_examples: tuple[Exchange, ...] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)  # "POST /x negative" -> why
    error: str | None = None  # the load itself stopped early (not the service's fault)
    bursts: int = 0  # refused requests repeated `burst` times at once

    @property
    def classes(self) -> dict[str, int]:
        """Answers by status class: {"2xx": n, "4xx": n, ...}."""
        counts: Counter[str] = Counter()
        for status, n in self.statuses.items():
            counts[f"{status // 100}xx"] += n
        return dict(sorted(counts.items()))

    @property
    def passed(self) -> bool:
        """True when every hostile request got an answer below 500 and the load did not stop
        early (a load that could not generate its requests proved nothing)."""
        return self.server_errors == 0 and self.no_answers == 0 and self.error is None

    @property
    def problems(self) -> tuple[str, ...]:
        """One line per kind of failure, with the operations hit and the first example."""
        lines = []
        if self.server_errors:
            lines.append(
                f"hostile input: {self.server_errors} of {self.sent} answers were 5xx "
                f"({self._hit('server_errors')}), e.g. "
                f"{self.server_error_examples[0].describe()}"
            )
        if self.no_answers:
            lines.append(
                f"hostile input: {self.no_answers} of {self.sent} requests got no answer "
                f"({self._hit('no_answers')}), e.g. {self.no_answer_examples[0].describe()}"
            )
        if self.error:
            lines.append(f"hostile input stopped early: {self.error}")
        return tuple(lines)

    def summary(self) -> str:
        """One line: requests, rate, answers by class, failures."""
        classes = ", ".join(f"{k} {v}" for k, v in self.classes.items()) or "no answers"
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"hostile input {verdict}: {self.sent} requests in {self.seconds:.1f}s "
            f"(at most {self.rate:g}/s) to {len(self.operations)} operations; {classes}; "
            f"no answer {self.no_answers}"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, for the journal and the report."""
        return {
            "base_url": self.base_url,
            "seconds": round(self.seconds, 3),
            "rate": self.rate,
            "sent": self.sent,
            "passed": self.passed,
            "classes": self.classes,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "server_errors": self.server_errors,
            "no_answers": self.no_answers,
            "operations": {k: asdict(v) for k, v in sorted(self.operations.items())},
            "server_error_examples": [asdict(e) for e in self.server_error_examples],
            "no_answer_examples": [asdict(e) for e in self.no_answer_examples],
            "skipped": dict(self.skipped),
            "error": self.error,
            "bursts": self.bursts,
        }

    def _hit(self, what: str) -> str:
        counts = {op: getattr(c, what) for op, c in self.operations.items()}
        return ", ".join(f"{op} {n}" for op, n in sorted(counts.items()) if n)


@dataclass
class HostileTally:
    """Collects answers while a hostile load runs (thread-safe, bounded memory)."""

    operations: tuple[str, ...]  # every operation that may be drawn, "METHOD /path"
    _statuses: Counter[int] = field(default_factory=Counter)
    _counts: dict[str, OperationCounts] = field(default_factory=dict)
    _server_errors: list[Exchange] = field(default_factory=list)
    _no_answers: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, exchange: Exchange) -> None:
        """Count an answer; keep it as an example when it is a 5xx."""
        assert exchange.status is not None
        with self._lock:
            self._statuses[exchange.status] += 1
            failed = exchange.status >= 500
            self._count(exchange.operation, server_errors=int(failed))
            if failed:
                self._keep(self._server_errors, exchange)

    def unanswered(self, exchange: Exchange) -> None:
        """Count a request that got no answer; keep it as an example."""
        with self._lock:
            self._count(exchange.operation, no_answers=1)
            self._keep(self._no_answers, exchange)

    def report(
        self,
        *,
        base_url: str,
        seconds: float,
        rate: float,
        skipped: Mapping[str, str] | None = None,
        error: str | None = None,
        bursts: int = 0,
    ) -> HostileReport:
        """The report of what was collected so far."""
        with self._lock:
            counts = {op: OperationCounts() for op in self.operations} | self._counts
            return HostileReport(
                base_url=base_url,
                seconds=seconds,
                rate=rate,
                sent=sum(c.sent for c in counts.values()),
                statuses=dict(self._statuses),
                server_errors=sum(c.server_errors for c in counts.values()),
                no_answers=sum(c.no_answers for c in counts.values()),
                operations=counts,
                server_error_examples=tuple(self._server_errors),
                no_answer_examples=tuple(self._no_answers),
                skipped=dict(skipped or {}),
                error=error,
                bursts=bursts,
            )

    def _count(self, operation: str, *, server_errors: int = 0, no_answers: int = 0) -> None:
        old = self._counts.get(operation, OperationCounts())
        self._counts[operation] = OperationCounts(
            sent=old.sent + 1,
            server_errors=old.server_errors + server_errors,
            no_answers=old.no_answers + no_answers,
        )

    @staticmethod
    def _keep(examples: list[Exchange], exchange: Exchange) -> None:
        same = sum(e.operation == exchange.operation for e in examples)
        if len(examples) < EXAMPLES_PER_KIND and same < EXAMPLES_PER_OPERATION:
            examples.append(exchange)
