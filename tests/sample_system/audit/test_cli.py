"""`python -m sample_system.audit` against a running shop: its JSON, its summary, its exit codes."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from sample_system.audit.__main__ import main
from sample_system.audit.invariants import INVARIANTS
from tests.sample_system.audit.shopdata import AUDITED, ShopData
from tests.sample_system.shop import dead_url


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out or captured.err), captured.err


def test_a_clean_shop_is_exit_0_with_every_invariant_listed(
    data: ShopData, capsys: pytest.CaptureFixture[str]
):
    code, report, summary = run(data.urls(), capsys)
    assert (code, report["ok"], report["violations"]) == (0, True, [])
    assert (report["format"], report["version"]) == ("shop-audit", 1)
    assert report["invariants"] == [rule.id for rule in INVARIANTS]
    assert report["pending_orders"] == []
    assert summary.startswith(f"audit: ok, {len(INVARIANTS)} invariants hold over 4 orders")


def test_a_violation_is_exit_1_naming_the_invariant_and_the_entity(
    data: ShopData, capsys: pytest.CaptureFixture[str]
):
    with data.db("payments") as db:
        db.execute("UPDATE charges SET state = 'captured' WHERE order_id = ?", (data.declined,))
    code, report, summary = run(data.urls(), capsys)
    assert code == 1
    assert report["violations"] == [
        {
            "invariant": "failed_order_has_no_captured_charge",
            "entity": {"kind": "order", "id": data.declined},
            "detail": "charges: ['captured'] (payment_declined)",
        }
    ]
    assert f"failed_order_has_no_captured_charge: order {data.declined}" in summary


def test_wait_reads_again_until_the_break_is_repaired(
    data: ShopData, capsys: pytest.CaptureFixture[str]
):
    with data.db("notifications") as db:
        db.execute("DELETE FROM notifications")
    repair = threading.Timer(0.3, data.restore)  # as a late notification would
    repair.start()
    try:
        code, report, _ = run([*data.urls(), "--wait", "10"], capsys)
    finally:
        repair.join()
    assert (code, report["violations"]) == (0, [])
    assert report["reads"] > 1


def test_an_unreachable_service_is_exit_2_naming_the_url(
    data: ShopData, capsys: pytest.CaptureFixture[str]
):
    down = dead_url()
    code, report, _ = run([*data.urls()[:-2], "--notifications", down], capsys)
    assert code == 2
    assert down in str(report["error"])


def test_missing_urls_are_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for name in AUDITED:
        monkeypatch.delenv(f"{name.upper()}_URLS", raising=False)
    code, report, _ = run([], capsys)
    assert code == 2
    assert "ORDERS_URLS is not set" in str(report["error"])
