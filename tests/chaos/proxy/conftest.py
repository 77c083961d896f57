"""Fixtures for the embedded Toxiproxy: a real server on a free loopback port, real peers."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from chaos.proxy import RunningServer, serve_in_thread
from tests.chaos.proxy.helpers import Api, Peer, echo_handler


@pytest.fixture
def server() -> Iterator[RunningServer]:
    """The embedded server in a background thread (seeded), on a free loopback port."""
    with serve_in_thread(seed=7, proxy_metrics=True) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Api:
    return Api(server.host, server.port)


@pytest.fixture
def echo() -> Iterator[Peer]:
    """An echo server."""
    peer = Peer(echo_handler)
    yield peer
    peer.close()


@pytest.fixture
def make_peer() -> Iterator[Callable[[Callable[[socket.socket], None]], Peer]]:
    """Start peers with custom handlers; all closed afterwards."""
    peers: list[Peer] = []

    def make(handler: Callable[[socket.socket], None]) -> Peer:
        peer = Peer(handler)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
