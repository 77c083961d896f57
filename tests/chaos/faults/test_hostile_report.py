"""Counting what hostile input met, with bounded examples (pure)."""

from __future__ import annotations

import json

from chaos.faults.hostile_report import (
    EXAMPLES_PER_KIND,
    EXAMPLES_PER_OPERATION,
    Exchange,
    HostileTally,
)

OPERATIONS = ("GET /items", "POST /items", "GET /items/{id}")


def answer(status: int, path: str = "/items", method: str = "GET") -> Exchange:
    url = "http://127.0.0.1:1" + path.replace("{id}", "7")
    return Exchange(method, path, url, None, status=status, body="Internal Server Error")


def report_of(tally: HostileTally):  # type: ignore[no-untyped-def]
    return tally.report(base_url="http://127.0.0.1:1", seconds=2.0, rate=10.0)


def test_answers_are_counted_by_code_class_and_operation() -> None:
    tally = HostileTally(OPERATIONS)
    for status in (200, 201, 422, 422, 404, 500, 503):
        tally.answered(answer(status))
    tally.answered(answer(422, method="POST"))
    tally.unanswered(
        Exchange("GET", "/items/{id}", "http://127.0.0.1:1/items/7", None, error="ReadTimeout: x")
    )
    report = report_of(tally)

    assert report.sent == 9
    assert report.classes == {"2xx": 2, "4xx": 4, "5xx": 2}
    assert report.statuses[422] == 3
    assert (report.server_errors, report.no_answers) == (2, 1)
    assert report.operations["GET /items"].sent == 7
    assert report.operations["GET /items"].server_errors == 2
    assert report.operations["GET /items/{id}"].no_answers == 1
    assert not report.passed
    assert report.problems[0].startswith(
        "hostile input: 2 of 9 answers were 5xx (GET /items 2), e.g. GET "
    )
    assert "got no answer (GET /items/{id} 1)" in report.problems[1]
    assert "FAILED" in report.summary()


def test_only_4xx_answers_pass_and_every_operation_is_listed() -> None:
    tally = HostileTally(OPERATIONS)
    tally.answered(answer(422))
    report = report_of(tally)

    assert report.passed and report.problems == ()
    assert set(report.operations) == set(OPERATIONS)
    assert report.operations["POST /items"].sent == 0


def test_a_load_that_stopped_early_proved_nothing_and_fails() -> None:
    tally = HostileTally(OPERATIONS)
    tally.answered(answer(422))
    report = tally.report(
        base_url="http://127.0.0.1:1", seconds=0.1, rate=10.0, error="generating requests failed"
    )

    assert not report.passed
    assert report.problems == ("hostile input stopped early: generating requests failed",)
    assert "FAILED" in report.summary()


def test_examples_are_capped_per_operation_and_in_all_but_every_failure_counts() -> None:
    tally = HostileTally(OPERATIONS)
    for _ in range(50):
        tally.answered(answer(500))
    for i in range(50):
        tally.answered(answer(500, path=f"/other/{i}"))  # many operations: the total cap holds
    report = report_of(tally)

    assert report.server_errors == 100
    kept = [e for e in report.server_error_examples if e.path == "/items"]
    assert len(kept) == EXAMPLES_PER_OPERATION
    assert len(report.server_error_examples) == EXAMPLES_PER_KIND


def test_the_report_is_json_for_the_journal() -> None:
    tally = HostileTally(OPERATIONS)
    tally.answered(answer(500))
    data = json.loads(json.dumps(report_of(tally).to_json()))

    assert data["passed"] is False
    assert data["statuses"] == {"500": 1}
    assert data["server_error_examples"][0]["url"] == "http://127.0.0.1:1/items"
    assert data["operations"]["GET /items"] == {"sent": 1, "server_errors": 1, "no_answers": 0}
