"""The shop's isolation claims as ordinary tests, written with gameday's pytest plugin.

The plugin starts the shop once, from the system file named in pyproject.toml
(`gameday_system = "sample_system/system.yaml"`); each test holds a fault with `fault(...)`
and loads one journey alone, at the system file's rate, with `load(...)`. The journeys'
SLOs are the system file's too. Run under the machine's heavy-test lock:
flock /tmp/gameday-heavy.lock pytest tests/sample_system/test_isolation.py
"""

from __future__ import annotations

import httpx
import pytest

from chaos.testing.fault import Faults
from chaos.testing.load import Load
from chaos.testing.system import SystemUnderTest

pytestmark = pytest.mark.slow

SECONDS = 3  # judged per load: 12-36 requests at the system file's rates, enough for a smoke
FAST_MS = 1000  # "fails fast": well under the checkout deadline (3 s) and the SLO's 800 ms x 1.25


def test_checkout_succeeds_without_faults(load: Load) -> None:
    """The baseline: without it, a 503 under a fault would prove nothing."""
    checkout = load("checkout", seconds=SECONDS)
    assert checkout.meets_slo, checkout


def test_payments_down_leaves_browse_alone_and_checkout_fails_fast(
    fault: Faults, load: Load
) -> None:
    with fault("payments", "down"):
        browse = load("browse", seconds=SECONDS)
        checkout = load("checkout", seconds=SECONDS)
    assert browse.meets_slo, browse
    assert set(checkout.errors) == {"503"}, checkout  # a clear answer, never a hang
    assert checkout.p95 < FAST_MS, checkout


def test_reviews_down_the_product_page_still_answers(
    fault: Faults, load: Load, gameday_system: SystemUnderTest
) -> None:
    with fault("reviews", "down"):
        product = load("product", seconds=SECONDS)
        page = httpx.get(f"{gameday_system.entry_url}/api/products/1", timeout=5)
    assert product.meets_slo, product
    assert page.status_code == 200
    assert "reviews" in page.json()["degraded"]
