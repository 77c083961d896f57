"""notifications: one notification per confirmed order, across duplicates and a NATS restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.net import LOOPBACK, free_port
from sample_system.common.messaging import Messaging
from sample_system.notifications.app import create_app
from tests.sample_system.servers import AUTH, nats_server, serve


def publish(nats_url: str, *events: tuple[dict[str, Any], str]) -> None:
    """Publish (event, de-duplication id) pairs to JetStream and wait for their acks."""

    async def go() -> None:
        messaging = Messaging([nats_url], name="test-publisher")
        await messaging.start()
        try:
            assert await messaging.wait_connected(10), "NATS did not answer"
            for event, msg_id in events:
                await messaging.publish("orders.confirmed", event, event_id=msg_id)
        finally:
            await messaging.close()

    asyncio.run(go())


def confirmed(order_id: str) -> dict[str, Any]:
    return {
        "event_id": f"order-confirmed-{order_id}",
        "order_id": order_id,
        "client": "alice",
        "total_cents": 1999,
        "items": [{"product_id": 1, "quantity": 1, "unit_price_cents": 1999}],
    }


def wait_for(url: str, predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(url, timeout=5, headers=AUTH).json()
        if predicate(body):
            return body
        assert time.monotonic() < deadline, f"gave up waiting on {url}: {body}"
        time.sleep(0.05)


@pytest.fixture
def service(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(NATS URL, notifications URL)."""
    with (
        nats_server(tmp_path / "nats") as (nats_url, _),
        serve(create_app({**env, "NATS_URLS": nats_url})) as url,
    ):
        yield nats_url, url


def test_a_republished_event_notifies_once(service: tuple[str, str]):
    nats_url, url = service
    # Different de-duplication ids: JetStream keeps both, the consumer must drop one.
    publish(nats_url, (confirmed("o1"), "first"), (confirmed("o1"), "second"))
    publish(nats_url, (confirmed("o2"), "third"))
    wait_for(url + "/admin/consumer", lambda b: b["delivered"] + b["duplicates"] == 3)
    consumer = httpx.get(url + "/admin/consumer", headers=AUTH).json()
    assert (consumer["delivered"], consumer["duplicates"]) == (2, 1)
    sent = httpx.get(url + "/notifications", params={"order_id": "o1"}, headers=AUTH).json()
    assert len(sent["notifications"]) == 1
    assert "o1 is confirmed" in sent["notifications"][0]["message"]


def test_the_stream_drops_a_duplicate_de_duplication_id(service: tuple[str, str]):
    nats_url, url = service
    publish(nats_url, (confirmed("o1"), "same"), (confirmed("o1"), "same"))
    publish(nats_url, (confirmed("o2"), "other"))
    wait_for(url + "/admin/consumer", lambda b: b["delivered"] == 2)
    assert httpx.get(url + "/admin/consumer", headers=AUTH).json()["duplicates"] == 0


def test_a_bad_order_id_filter_is_a_422(service: tuple[str, str]):
    _, url = service
    answer = httpx.get(url + "/notifications", params={"order_id": "no spaces"}, headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == "query.order_id"


def test_notifications_resume_after_nats_restarts_and_none_is_repeated(
    tmp_path: Path, env: dict[str, str]
):
    data, port = tmp_path / "nats", free_port()
    nats_url = f"nats://{LOOPBACK}:{port}"
    # The service starts while NATS is still down: it must serve and connect later.
    with serve(create_app({**env, "NATS_URLS": nats_url})) as url:
        assert httpx.get(url + "/readyz").status_code == 200
        with nats_server(data, port):
            publish(nats_url, (confirmed("before"), "before"))
            wait_for(url + "/admin/consumer", lambda b: b["delivered"] == 1)
        wait_for(url + "/admin/consumer", lambda b: not b["nats_connected"])
        with nats_server(data, port):  # same port, same data: the stream and consumer survive
            publish(nats_url, (confirmed("after"), "after"))
            wait_for(url + "/admin/consumer", lambda b: b["delivered"] == 2)
        assert httpx.get(url + "/admin/consumer", headers=AUTH).json()["duplicates"] == 0
        sent = httpx.get(url + "/admin/notifications", headers=AUTH).json()["notifications"]
        assert sorted(n["order_id"] for n in sent) == ["after", "before"]
