"""payments over HTTP: charges idempotent by order id, declines, refunds, bad input."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sample_system.common.errors import ConfigError
from sample_system.payments.app import create_app
from sample_system.payments.processor import Processor, ProcessorSettings
from tests.sample_system.servers import serve_client


@pytest.fixture
def payments(env: dict[str, str]) -> Iterator[httpx.Client]:
    with serve_client(create_app({**env, "PROCESSOR_LATENCY_MS": "5-10"})) as client:
        yield client


def test_a_charge_is_captured_once_however_often_it_is_requested(payments: httpx.Client):
    def charge(_: int) -> httpx.Response:
        return payments.put("/charges/o1", json={"amount_cents": 1999, "card_token": "tok_visa"})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(charge, range(8)))
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["state"] for a in answers} <= {"captured", "processing"}
    assert payments.get("/charges/o1").json()["state"] == "captured"
    assert len(payments.get("/admin/charges").json()["charges"]) == 1


def test_the_declined_test_card_is_declined(payments: httpx.Client):
    answer = payments.put("/charges/o2", json={"amount_cents": 500, "card_token": "tok_declined"})
    assert answer.json()["state"] == "declined"
    assert payments.get("/admin/charges", params={"state": "captured"}).json()["charges"] == []


def test_another_amount_for_the_same_order_is_a_conflict(payments: httpx.Client):
    payments.put("/charges/o3", json={"amount_cents": 500})
    answer = payments.put("/charges/o3", json={"amount_cents": 600})
    assert answer.status_code == 409
    assert answer.json()["error"] == "charge_mismatch"


def test_refund_is_idempotent(payments: httpx.Client):
    payments.put("/charges/o4", json={"amount_cents": 500})
    for _ in range(2):
        assert payments.post("/charges/o4/refund").json()["state"] == "refunded"
    assert payments.post("/charges/none/refund").status_code == 404


def test_unknown_charge_is_a_404_with_a_fix(payments: httpx.Client):
    answer = payments.get("/charges/none")
    assert answer.status_code == 404
    assert "PUT /charges" in answer.json()["fix"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 0}, "body.amount_cents"),
        ({"amount_cents": "lots"}, "body.amount_cents"),
        ({}, "body.amount_cents"),
        ({"amount_cents": 1, "card_token": ""}, "body.card_token"),
        ({"amount_cents": 1, "cvv": "123"}, "body.cvv"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(payments: httpx.Client, body, field):
    answer = payments.put("/charges/o5", json=body)
    assert answer.status_code == 422
    assert field in [p["field"] for p in answer.json()["problems"]]


def test_the_processor_never_exceeds_its_lines():
    settings = ProcessorSettings(latency_ms=(1.0, 2.0), concurrency=3)
    processor = Processor(settings, rng=random.Random(1))
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, processor.in_flight)
            await asyncio.sleep(0)

    async def scenario() -> list[str]:
        watcher = asyncio.create_task(watch())
        outcomes = await asyncio.gather(
            *(processor.charge(f"o{i}", 100, "tok_visa") for i in range(12))
        )
        watcher.cancel()
        return list(outcomes)

    assert asyncio.run(scenario()) == ["captured"] * 12
    assert peak == 3


@pytest.mark.parametrize("raw", ["fast", "50-20", "-5"])
def test_processor_latency_setting_errors_name_the_value(raw: str):
    with pytest.raises(ConfigError, match=f"PROCESSOR_LATENCY_MS={raw!r}"):
        ProcessorSettings.from_env({"PROCESSOR_LATENCY_MS": raw})


def test_processor_settings_from_env():
    settings = ProcessorSettings.from_env(
        {"PROCESSOR_LATENCY_MS": "40", "PROCESSOR_CONCURRENCY": "8"}
    )
    assert settings == ProcessorSettings(latency_ms=(40.0, 40.0), concurrency=8)
