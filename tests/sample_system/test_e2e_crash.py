"""Payments killed in the middle of a checkout, then restarted: the reconciler settles it.

The processor is slowed to 1.5 s so the kill lands while a charge is being processed, with
its row written and its outcome unknown to orders.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.runtime import start_system
from chaos.system.model import SystemSpec, load_system
from tests.sample_system.test_e2e import (
    KEY,
    SYSTEM_FILE,
    audited,
    checkout,
    eventually,
    internal,
)

pytestmark = pytest.mark.slow


def with_env(spec: SystemSpec, changes: Mapping[str, Mapping[str, str]]) -> SystemSpec:
    """The system file with some services' env extended."""
    services = dict(spec.services)
    for name, env in changes.items():
        services[name] = dataclasses.replace(services[name], env={**services[name].env, **env})
    return dataclasses.replace(spec, services=services)


def test_payments_killed_mid_checkout_then_the_reconciler_settles_it(tmp_path: Path):
    slow = with_env(
        load_system(SYSTEM_FILE),
        {
            "payments": {"PROCESSOR_LATENCY_MS": "1500"},  # a window to kill in
            "orders": {"PAYMENTS_TIMEOUT_S": "5", "ORDERS_RECONCILE_AFTER_S": "1"},
        },
    )
    with start_system(slow, run_dir=tmp_path / "slow") as system:
        answers: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: answers.append(checkout(system)))
        worker.start()
        payments = system.url("payments")

        def processing() -> list[Any]:
            url = payments + "/admin/charges"
            answer = httpx.get(url, params={"state": "processing"}, headers=internal(system))
            return answer.json()["charges"]

        (charge,) = eventually("a charge in progress", processing, timeout=15)
        for replica in (0, 1):
            system.kill("payments", replica, restart=False)
        worker.join(timeout=30)
        (answer,) = answers
        assert answer.status_code == 202, answer.text
        order = answer.json()["order"]
        assert (order["order_id"], order["reason"]) == (
            charge["order_id"],
            "payment_outcome_unknown",
        )

        for replica in (0, 1):
            system.start("payments", replica)
        lookup = f"{system.url('gateway')}/api/orders/{order['order_id']}"
        eventually(
            "the reconciler confirms the order",
            lambda: httpx.get(lookup, headers=KEY).json()["state"] == "confirmed",
        )
        audited(system)
