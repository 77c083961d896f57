"""`python -m sample_system.audit` against a running shop: clean, a planted break, a dead URL."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sample_system.audit.__main__ import main
from tests.sample_system.servers import AUTH
from tests.sample_system.shop import Shop, dead_url, running_shop

AUDITED = ("orders", "payments", "inventory", "notifications")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with running_shop(tmp_path, ("catalog", *AUDITED)) as s:
        yield s


def flags(shop: Shop) -> list[str]:
    return [arg for name in AUDITED for arg in (f"--{name}", shop.urls[name])]


def order(shop: Shop, card: str) -> httpx.Response:
    body = {"items": [{"product_id": 1, "quantity": 1}], "card_token": card}
    headers = {"Idempotency-Key": uuid.uuid4().hex, **AUTH}
    return httpx.post(shop.urls["orders"] + "/orders", json=body, headers=headers, timeout=10)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out or captured.err)


def test_a_consistent_shop_passes(shop: Shop, capsys: pytest.CaptureFixture[str]):
    assert order(shop, "tok_visa").status_code == 201
    assert order(shop, "tok_declined").status_code == 402
    code, report = run([*flags(shop), "--wait", "10"], capsys)
    assert (code, report["ok"], report["violations"]) == (0, True, [])
    assert report["counts"] == {
        "confirmed": 1, "failed": 1, "pending": 0, "notifications": 1, "charges": 2,
    }  # fmt: skip


def test_a_captured_charge_on_a_failed_order_is_caught(
    shop: Shop, capsys: pytest.CaptureFixture[str]
):
    failed = order(shop, "tok_declined").json()["order"]
    # Plant the break in payments' file; the audit reads it back through payments' API.
    with sqlite3.connect(shop.data_dir / "payments.sqlite3") as db:
        db.execute(
            "UPDATE charges SET state = 'captured' WHERE order_id = ?", (failed["order_id"],)
        )
    code, report = run(flags(shop), capsys)
    assert code == 1
    assert report["violations"] == [
        {
            "invariant": "failed_has_no_captured_charge",
            "subject": f"order {failed['order_id']}",
            "detail": "captured, not refunded",
        }
    ]


def test_leaked_stock_is_caught(shop: Shop, capsys: pytest.CaptureFixture[str]):
    with sqlite3.connect(shop.data_dir / "inventory.sqlite3") as db:
        db.execute("UPDATE stock SET available = available - 1 WHERE product_id = 3")
    code, report = run(flags(shop), capsys)
    assert code == 1
    assert [v["subject"] for v in report["violations"]] == ["product 3"]  # type: ignore[index]


def test_an_unreachable_service_is_exit_2_naming_the_url(
    shop: Shop, capsys: pytest.CaptureFixture[str]
):
    down = dead_url()
    argv = [*flags(shop)[:-2], "--notifications", down]
    code, report = run(argv, capsys)
    assert code == 2
    assert down in str(report["error"])


def test_missing_urls_are_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for name in AUDITED:
        monkeypatch.delenv(f"{name.upper()}_URLS", raising=False)
    code, report = run([], capsys)
    assert code == 2
    assert "ORDERS_URLS is not set" in str(report["error"])
