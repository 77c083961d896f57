"""reviews over HTTP: posting, listing newest first with a summary, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sample_system.reviews.app import create_app
from tests.sample_system.servers import serve_client


@pytest.fixture
def reviews(env: dict[str, str]) -> Iterator[httpx.Client]:
    with serve_client(create_app(env)) as client:
        yield client


def test_posted_reviews_are_listed_newest_first_with_a_summary(reviews: httpx.Client):
    for rating in (5, 2, 4):
        posted = reviews.post(
            "/products/7/reviews", json={"author": "ada", "rating": rating, "text": f"r{rating}"}
        )
        assert posted.status_code == 201
    reviews.post("/products/8/reviews", json={"author": "bob", "rating": 1, "text": "other"})
    page = reviews.get("/products/7/reviews", params={"limit": 2}).json()
    assert [r["rating"] for r in page["reviews"]] == [4, 2]
    assert (page["count"], page["average_rating"]) == (3, 3.67)


def test_a_product_without_reviews(reviews: httpx.Client):
    page = reviews.get("/products/3/reviews").json()
    assert (page["count"], page["average_rating"], page["reviews"]) == (0, None, [])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"author": "a", "rating": 6, "text": "x"}, "body.rating"),
        ({"author": "", "rating": 3, "text": "x"}, "body.author"),
        ({"author": "a", "rating": 3}, "body.text"),
        ({"author": "a", "rating": 3, "text": "x" * 2001}, "body.text"),
        ({"author": "a", "rating": 3, "text": "x", "stars": 5}, "body.stars"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(reviews: httpx.Client, body, field):
    answer = reviews.post("/products/1/reviews", json=body)
    assert answer.status_code == 422
    assert field in [p["field"] for p in answer.json()["problems"]]


def test_malformed_json_is_a_422_not_a_500(reviews: httpx.Client):
    answer = reviews.post(
        "/products/1/reviews", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
