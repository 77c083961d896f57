"""Arrival stamps: a toxic counts from when data reached the proxy, not from when it read it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from chaos.proxy import arrival


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sender = socket.create_connection(listener.getsockname())
        receiver, _ = listener.accept()
    with sender, receiver:
        yield sender, receiver


def test_data_read_late_is_stamped_when_it_arrived(pair: tuple[socket.socket, ...]) -> None:
    if not arrival.SUPPORTED:
        pytest.skip("kernel receive timestamps are Linux only")
    sender, receiver = pair
    assert arrival.enable(receiver)
    sent = time.monotonic()
    sender.sendall(b"hello")
    time.sleep(0.05)  # the proxy busy elsewhere, or slow to wake up
    data, stamp = arrival.receive(receiver, 1024, earliest=0.0)
    assert data == b"hello"
    assert sent <= stamp < sent + 0.01 < time.monotonic() - 0.03


def test_never_before_reading_was_possible_nor_without_a_stamp_later_than_now(
    pair: tuple[socket.socket, ...],
) -> None:
    sender, receiver = pair
    arrival.enable(receiver)
    sender.sendall(b"held back")
    time.sleep(0.02)
    resumed = time.monotonic()  # the proxy was not reading until now (backpressure)
    _, stamp = arrival.receive(receiver, 1024, earliest=resumed)
    assert stamp == resumed or not arrival.SUPPORTED
    arrival.disable(receiver)
    sender.sendall(b"plain")
    time.sleep(0.02)
    before = time.monotonic()
    data, stamp = arrival.receive(receiver, 1024, earliest=0.0)
    assert data == b"plain" and before <= stamp <= time.monotonic()  # no stamp: now
