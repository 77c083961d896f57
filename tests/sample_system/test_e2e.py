"""The whole shop as the runtime starts it: processes, per-edge proxies, NATS, real faults.

One system serves this module's tests in turn; each undoes its fault. The payments-crash
test needs a slower processor and has its own module (test_e2e_crash.py).

Run under the machine's heavy-test lock: flock /tmp/gameday-heavy.lock pytest -m slow ...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from chaos.runtime import RunningSystem, start_system
from chaos.runtime.secret import SECRET_ENV, read_secret
from sample_system.audit.collect import Report, Targets, audit

pytestmark = pytest.mark.slow

SYSTEM_FILE = Path(__file__).resolve().parents[2] / "sample_system" / "system.yaml"
KEY = {"X-API-Key": "demo-key"}


def eventually(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.1)


def checkout(system: RunningSystem, key: str | None = None, product_id: int = 1) -> httpx.Response:
    headers = {**KEY, "Idempotency-Key": key or uuid.uuid4().hex}
    body = {"items": [{"product_id": product_id, "quantity": 1}]}
    return httpx.post(
        system.url("gateway") + "/api/checkout", json=body, headers=headers, timeout=15
    )


def internal(system: RunningSystem) -> dict[str, str]:
    """The header the shop's services send each other: the run's secret as a bearer token."""
    return {"Authorization": f"Bearer {read_secret(system.run_dir)}"}


def audited(system: RunningSystem, wait: float = 30.0) -> Report:
    names = ("orders", "payments", "inventory", "notifications")
    with mock.patch.dict(os.environ, {SECRET_ENV: str(read_secret(system.run_dir))}):
        report = audit(Targets(*(system.url(n) for n in names)), wait=wait)
    assert report.ok, report.as_dict()
    assert report.pending_orders == []
    return report


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with start_system(SYSTEM_FILE, run_dir=tmp_path_factory.mktemp("shop")) as system:
        yield system


def test_browse_review_and_checkout_once_per_key(shop: RunningSystem):
    gateway = shop.url("gateway")
    assert len(httpx.get(gateway + "/api/products").json()["products"]) == 12
    review = {"author": "ada", "rating": 5, "text": "Opened exactly when it should."}
    assert (
        httpx.post(gateway + "/api/products/2/reviews", json=review, headers=KEY).status_code == 201
    )
    page = httpx.get(gateway + "/api/products/2").json()
    assert (page["reviews"]["count"], page["degraded"]) == (1, [])

    key = uuid.uuid4().hex
    first, again = checkout(shop, key), checkout(shop, key)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    order_id = first.json()["order"]["order_id"]
    assert again.json()["order"]["order_id"] == order_id
    lookup = httpx.get(f"{gateway}/api/orders/{order_id}", headers=KEY).json()
    assert lookup["state"] == "confirmed"
    charges = httpx.get(shop.url("payments") + "/admin/charges", headers=internal(shop))
    assert [c["order_id"] for c in charges.json()["charges"]].count(order_id) == 1
    audited(shop)


def test_the_product_page_degrades_while_reviews_is_down(shop: RunningSystem):
    gateway = shop.url("gateway")
    shop.toxiproxy.disable("gateway.reviews.0")
    try:
        page = httpx.get(gateway + "/api/products/3").json()
        assert "reviews" not in page
        assert page["degraded"] == ["reviews"]
        assert page["stock"]["status"] == "in_stock"
        assert httpx.get(gateway + "/api/products").status_code == 200
        assert checkout(shop).status_code == 201
    finally:
        shop.toxiproxy.enable("gateway.reviews.0")
    assert "reviews" in httpx.get(gateway + "/api/products/3").json()


def test_notifications_exactly_once_across_a_nats_restart(shop: RunningSystem):
    assert checkout(shop).status_code == 201
    audited(shop)  # notified before the restart
    shop.kill("nats", 0, restart=False)
    try:
        during = checkout(shop)
        assert during.status_code == 201, "checkout must not need NATS"
        outbox = httpx.get(shop.url("orders") + "/admin/outbox", headers=internal(shop)).json()
        assert outbox["waiting"] >= 1
    finally:
        shop.start("nats", 0)
    report = audited(shop)  # waits until the event published after the restart is delivered
    assert report.counts["notifications"] == report.counts["confirmed"]


def test_the_audit_command_as_the_experiment_runner_runs_it(shop: RunningSystem):
    # chaos.experiment.runner gives the invariants command every service's direct URLs as
    # <SERVICE>_URLS, and the run's secret.
    env = {
        **os.environ,
        **{f"{s.upper()}_URLS": ",".join(shop.urls(s)) for s in shop.spec.services},
        SECRET_ENV: str(read_secret(shop.run_dir)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "sample_system.audit", "--wait", "30"],
        env=env, cwd=SYSTEM_FILE.parents[1], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["counts"]["confirmed"] >= 3


def test_the_runs_secret_is_in_no_log_span_or_file_of_the_run(shop: RunningSystem):
    secret = read_secret(shop.run_dir)
    assert secret and checkout(shop).status_code == 201  # calls between services carry it
    traces = list((shop.run_dir / "traces").rglob("*"))
    assert any(path.is_file() and path.stat().st_size for path in traces), "no spans written"
    for path in shop.run_dir.rglob("*"):
        if path.is_file() and path.name != "secret":
            assert secret.encode() not in path.read_bytes(), path
