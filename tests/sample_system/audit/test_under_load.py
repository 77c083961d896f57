"""The audit under load: orders move while it reads, and it still reports only real breaks."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sample_system.audit.collect import Report, Targets, audit
from tests.sample_system.audit.shopdata import AUDITED
from tests.sample_system.servers import AUTH
from tests.sample_system.shop import Shop, running_shop

pytestmark = pytest.mark.slow


def shopper(shop: Shop, stop: threading.Event) -> int:
    placed = 0
    with httpx.Client(base_url=shop.urls["orders"], timeout=10, headers=AUTH) as client:
        while not stop.is_set():
            card = "tok_declined" if placed % 5 == 4 else "tok_visa"
            body = {"items": [{"product_id": 1 + placed % 12, "quantity": 1}], "card_token": card}
            client.post("/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            placed += 1
    return placed


def test_audits_while_checkouts_run_find_nothing_though_orders_are_in_flight(tmp_path: Path):
    with running_shop(tmp_path, ("catalog", *AUDITED)) as shop:
        targets = Targets(*(shop.urls[s] for s in AUDITED))
        stop = threading.Event()
        reports: list[Report] = []
        with ThreadPoolExecutor(4) as pool:
            shoppers = [pool.submit(shopper, shop, stop) for _ in range(4)]
            try:
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    reports.append(audit(targets, grace=30))
            finally:
                stop.set()
            placed = sum(s.result() for s in shoppers)
        assert [r.as_dict()["violations"] for r in reports if not r.ok] == []
        in_flight = sum(1 for r in reports if r.pending_orders)
        assert in_flight >= len(reports) // 4, (
            f"only {in_flight} of {len(reports)} saw a pending order"
        )
        quiet = audit(targets, wait=10, poll=0.05)
        assert quiet.ok, quiet.as_dict()
        assert quiet.counts["confirmed"] + quiet.counts["failed"] == placed
