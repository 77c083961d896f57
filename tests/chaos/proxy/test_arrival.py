"""Arrival stamps: a toxic counts from when data reached the proxy, not from when it read it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from chaos.proxy import arrival


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    sender, receiver = _connected_pair()
    with sender, receiver:
        yield sender, receiver


def _stamping_on(sender: socket.socket, receiver: socket.socket) -> None:
    """Wait (bounded) for the kernel's deferred switch that turns stamping on, see arrival."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        sender.sendall(b"probe")
        time.sleep(0.005)
        _, stamp = arrival.receive(receiver, 1024, earliest=0.0)
        if stamp < time.monotonic() - 0.004:
            return
    pytest.fail("the kernel never stamped a packet within 2 s of SO_TIMESTAMPNS")


def test_data_read_late_is_stamped_when_it_arrived(pair: tuple[socket.socket, ...]) -> None:
    if not arrival.SUPPORTED:
        pytest.skip("kernel receive timestamps are Linux only")
    sender, receiver = pair
    assert arrival.enable(receiver)
    _stamping_on(sender, receiver)
    sent = time.monotonic()
    sender.sendall(b"hello")
    done = time.monotonic()  # loopback: the bytes are in the receiver's queue by now
    time.sleep(0.05)  # the proxy busy elsewhere, or slow to wake up
    read = time.monotonic()
    data, stamp = arrival.receive(receiver, 1024, earliest=0.0)
    assert data == b"hello"
    assert sent <= stamp <= done + 0.001 < read - 0.04


def _connected_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sender = socket.create_connection(listener.getsockname())
        receiver, _ = listener.accept()
    return sender, receiver


def test_every_fresh_connection_is_stamped_from_its_first_bytes() -> None:
    """The kernel counts stamping sockets until they close and, deferred, switches stamping
    off when none is left and on again when one asks: without the module's keeper, most of
    these connections, each alone in its moment, would have their first bytes unstamped."""
    if not arrival.SUPPORTED:
        pytest.skip("kernel receive timestamps are Linux only")
    sender, receiver = _connected_pair()
    with sender, receiver:
        arrival.enable(receiver)
        _stamping_on(sender, receiver)
    late = []
    for _ in range(20):
        sender, receiver = _connected_pair()
        with sender, receiver:
            arrival.enable(receiver)
            sender.sendall(b"first bytes")
            done = time.monotonic()
            time.sleep(0.003)
            _, stamp = arrival.receive(receiver, 1024, earliest=0.0)
            late.append(stamp - done)
        time.sleep(0.001)  # a quiet moment: the kernel's deferred work runs
    assert max(late) <= 0.001, [f"{seconds * 1e3:.2f} ms" for seconds in late]


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
