"""The shop's user journeys: browse, product page, reviews (read/post) and checkout.

Two ways to load the shop from the same file:

- **closed model** (default): `Shopper`, an HttpUser doing the journeys as weighted tasks —
  what the stock `locust` CLI, its web UI and `--processes` expect:

      locust -f loadtests/locustfile.py --host http://127.0.0.1:PORT -u 20 -r 5

- **open model** (`SHOP_LOAD_MODEL=open`): one open-model user per journey, each arriving at a
  fixed rate (`SHOP_RATE_BROWSE`, `_PRODUCT`, `_REVIEWS`, `_CHECKOUT`, per second per user)
  with latency measured from the intended start — what gameday experiments use, so a stalled
  service cannot hide behind coordinated omission. Start one user per journey: `-u 4`.

Every request is reported under its journey (`context["journey"]`), so samples, SLOs and
verdicts are per journey, and request names are stable per journey in Locust's own stats.
Writes use the API key `SHOP_API_KEY` (default the system file's `loadtest-key`).

The gateway routes each journey requests are declared in `ROUTES` (and listed in
docs/loadtests.md); tests/loadtests/test_shop_locustfile.py runs each journey against the
shop and requires the gateway's own metrics to show every one of them answered, so a step
that silently stops running fails CI.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

from locust import HttpUser, between, task

from loadtests.plugin import *  # noqa: F403

API_KEY = os.environ.get("SHOP_API_KEY", "loadtest-key")
PRODUCT_IDS = range(1, 13)  # the shop's seed products (ids 1-12)
OPEN_MODEL = os.environ.get("SHOP_LOAD_MODEL", "closed") == "open"
POST_EVERY = 4  # the reviews journey posts on its 1st, 5th, 9th ... run, and reads otherwise

# The gateway routes (method and route template) each journey requests.
ROUTES = {
    "browse": ("GET /api/products",),
    "product": ("GET /api/products/{product_id}",),
    "reviews": (
        "GET /api/products/{product_id}/reviews",
        "POST /api/products/{product_id}/reviews",
    ),
    "checkout": ("POST /api/checkout", "GET /api/orders/{order_id}"),
}


def _rate(journey: str, default: float) -> float:
    return float(os.environ.get(f"SHOP_RATE_{journey.upper()}", default))


class Journeys:
    """The requests of each journey, shared by the closed and the open model."""

    client: Any  # Locust's HttpSession (HttpUser.client)
    _reviews_run = 0

    def _get(self, path: str, journey: str, name: str, **kwargs: Any) -> Any:
        return self.client.get(path, name=name, context={"journey": journey}, **kwargs)

    def browse(self) -> None:
        """GET /api/products: a page of the catalog."""
        self._get(
            f"/api/products?limit=20&offset={random.choice((0, 0, 20))}",
            "browse",
            "browse: list products",
        )

    def product(self) -> None:
        """GET /api/products/{product_id}: one product's page (catalog, stock, reviews)."""
        self._get(f"/api/products/{random.choice(PRODUCT_IDS)}", "product", "product: page")

    def reviews(self) -> None:
        """GET /api/products/{product_id}/reviews, and every POST_EVERY-th run instead
        POST /api/products/{product_id}/reviews (a new review)."""
        product = random.choice(PRODUCT_IDS)
        self._reviews_run += 1
        if self._reviews_run % POST_EVERY != 1:
            self._get(f"/api/products/{product}/reviews", "reviews", "reviews: read")
            return
        self.client.post(
            f"/api/products/{product}/reviews",
            json={"author": "loadtest", "rating": random.randint(1, 5), "text": "Sturdy."},
            headers={"X-API-Key": API_KEY},
            name="reviews: post",
            context={"journey": "reviews"},
        )

    def checkout(self) -> None:
        """POST /api/checkout (one product), then GET /api/orders/{order_id}: the order
        read back, whether it is confirmed or still pending (202)."""
        body = {"items": [{"product_id": random.choice(PRODUCT_IDS), "quantity": 1}]}
        with self.client.post(
            "/api/checkout",
            json=body,
            headers={"X-API-Key": API_KEY, "Idempotency-Key": str(uuid.uuid4())},
            name="checkout: place order",
            context={"journey": "checkout"},
            catch_response=True,
        ) as response:
            if not 200 <= response.status_code < 300:
                return  # reported as a failure of its status code ('503') or exception
            order_id = _order_id(response)
            if order_id is None:
                response.failure(f"no order.order_id in the answer: {response.text[:200]}")
                return
        self._get(
            f"/api/orders/{order_id}",
            "checkout",
            "checkout: read order",
            headers={"X-API-Key": API_KEY},
        )


def _order_id(response: Any) -> str | None:
    """The id of the order a checkout answered with (`{"order": {"order_id": ...}}`)."""
    try:
        order_id = response.json()["order"]["order_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return order_id if isinstance(order_id, str) and order_id else None


class Shopper(Journeys, HttpUser):
    """Closed model: one shopper doing weighted journeys with think time."""

    abstract = OPEN_MODEL
    wait_time = between(0.5, 1.5)

    @task(5)
    def browse_task(self) -> None:
        self.browse()

    @task(4)
    def product_task(self) -> None:
        self.product()

    @task(2)
    def reviews_task(self) -> None:
        self.reviews()

    @task(1)
    def checkout_task(self) -> None:
        self.checkout()


def _arrivals(journey: str, default_rate: float) -> type[OpenModelHttpUser]:  # noqa: F405
    """An open-model user arriving `SHOP_RATE_<JOURNEY>` times a second to do `journey`."""

    class Arrivals(Journeys, OpenModelHttpUser):  # noqa: F405
        abstract = not OPEN_MODEL
        rate = _rate(journey, default_rate)
        max_in_flight = 200

        def arrival(self) -> None:
            getattr(self, journey)()

    Arrivals.journey = journey
    Arrivals.__name__ = Arrivals.__qualname__ = f"{journey.capitalize()}Arrivals"
    return Arrivals


BrowseArrivals = _arrivals("browse", 10)
ProductArrivals = _arrivals("product", 8)
ReviewsArrivals = _arrivals("reviews", 4)
CheckoutArrivals = _arrivals("checkout", 3)
