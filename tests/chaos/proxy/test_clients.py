"""The server through the clients: toxiproxy-python as users call it, and our typed wrapper."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaos.errors import ProxyError
from chaos.net import free_port
from chaos.proxy import RunningServer
from chaos.proxy.client import ProxySpec, ToxiproxyClient, ToxiproxyError
from tests.chaos.proxy.helpers import Peer, connect


@pytest.fixture
def lib(server: RunningServer) -> Iterator[toxiproxy.Toxiproxy]:
    """toxiproxy-python pointed at the embedded server (its address is class state)."""
    saved = APIConsumer.host, APIConsumer.port
    client = toxiproxy.Toxiproxy()
    client.update_api_consumer(server.host, server.port)
    yield client
    APIConsumer.host, APIConsumer.port = saved


# -- toxiproxy-python, unchanged ---------------------------------------------------------------


def test_library_proxy_lifecycle(lib: toxiproxy.Toxiproxy, echo: Peer) -> None:
    assert lib.running()
    assert lib.version() == b'{"version": "2.12.0"}\n'
    proxy = lib.create(upstream=echo.address, name="echo")
    host, port = proxy.listen.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert set(lib.proxies()) == {"echo"}
    assert lib.get_proxy("echo").upstream == echo.address
    assert lib.get_proxy("missing") is None
    with pytest.raises(ProxyExists):
        lib.create(upstream=echo.address, name="echo")
    with connect(int(port)) as sock:
        sock.sendall(b"hi")
        assert sock.recv(2) == b"hi"
    with proxy.down(), pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port)), timeout=2)
    with connect(int(port)) as sock:
        sock.sendall(b"back")
        assert sock.recv(4) == b"back"
    assert proxy.destroy() is True
    assert lib.proxies() == {}


def test_library_toxics(lib: toxiproxy.Toxiproxy, echo: Peer) -> None:
    proxy = lib.create(upstream=echo.address, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 10, "jitter": 2})
    proxy.add_toxic(
        type="bandwidth", stream="upstream", name="slow", toxicity=0.5, attributes={"rate": 1000}
    )
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "slow"}
    assert toxics["latency_downstream"].attributes == {"latency": 10, "jitter": 2}
    assert (toxics["slow"].stream, toxics["slow"].toxicity) == ("upstream", 0.5)
    assert proxy.get_toxic("slow").type == "bandwidth"
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency")
    assert proxy.destroy_toxic("slow") is True
    with pytest.raises(NotFound):
        proxy.destroy_toxic("slow")
    assert lib.reset() is True
    assert proxy.toxics() == {}


def test_library_populate_and_not_found(lib: toxiproxy.Toxiproxy, echo: Peer) -> None:
    created = lib.populate(
        [
            {"name": "a", "upstream": echo.address, "listen": f"127.0.0.1:{free_port()}"},
            {"name": "b", "upstream": echo.address, "listen": f"127.0.0.1:{free_port()}"},
        ]
    )
    assert sorted(p.name for p in created) == ["a", "b"]
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/missing")
    lib.destroy_all()
    assert lib.proxies() == {}


# -- chaos.proxy.client.ToxiproxyClient -----------------------------------------------------------


@pytest.fixture
def client(server: RunningServer) -> ToxiproxyClient:
    return ToxiproxyClient(server.url, timeout=5)


def test_wrapper_covers_the_api(client: ToxiproxyClient, echo: Peer) -> None:
    assert client.version() == "2.12.0" and client.running()
    proxy = client.create_proxy("db", echo.address)
    assert (proxy.listen_host, proxy.enabled, proxy.toxics) == ("127.0.0.1", True, ())
    toxic = client.add_toxic("db", "latency", attributes={"latency": 20})
    assert (toxic.name, toxic.stream, toxic.attributes) == (
        "latency_downstream",
        "downstream",
        {"latency": 20, "jitter": 0},
    )
    updated = client.update_toxic(
        "db", "latency_downstream", attributes={"jitter": 5}, toxicity=0.5
    )
    assert (updated.attributes, updated.toxicity) == ({"latency": 20, "jitter": 5}, 0.5)
    assert client.get_toxic("db", "latency_downstream") == updated
    assert client.toxics("db") == [updated]
    assert client.get_proxy("db").toxics == (updated,)
    assert client.disable("db").enabled is False
    again = client.enable("db")
    assert (again.enabled, again.listen) == (True, proxy.listen)
    client.remove_toxic("db", "latency_downstream")
    assert client.toxics("db") == []
    assert set(client.proxies()) == {"db"}
    populated = client.populate(
        [ProxySpec("db", echo.address, proxy.listen), ProxySpec("cache", echo.address)]
    )
    assert [p.name for p in populated] == ["db", "cache"]
    moved = client.update_proxy("cache", upstream="127.0.0.1:1")
    assert moved.upstream == "127.0.0.1:1"
    client.reset()
    client.delete_proxy("cache")
    assert set(client.proxies()) == {"db"}


@pytest.mark.parametrize(
    ("call", "status", "text"),
    [
        (lambda c: c.get_proxy("missing"), 404, "proxy not found"),
        (lambda c: c.remove_toxic("db", "missing"), 404, "toxic not found"),
        (lambda c: c.create_proxy("db", "127.0.0.1:1"), 409, "proxy already exists"),
        (lambda c: c.add_toxic("db", "no_such_toxic"), 400, "invalid toxic type"),
        (
            lambda c: c.create_proxy("x", "127.0.0.1:1", listen="local373"),
            500,
            "missing port in address",
        ),
    ],
)
def test_wrapper_errors_carry_status_and_server_message(
    client: ToxiproxyClient, echo: Peer, call, status, text
) -> None:  # type: ignore[no-untyped-def]
    client.create_proxy("db", echo.address)
    with pytest.raises(ToxiproxyError) as caught:
        call(client)
    assert caught.value.status == status
    assert text in str(caught.value)
    assert isinstance(caught.value, ProxyError)


def test_wrapper_maps_library_errors_at_the_boundary(client: ToxiproxyClient) -> None:
    with pytest.raises(ToxiproxyError) as caught:
        client.get_proxy("missing")
    assert isinstance(caught.value.__cause__, NotFound)


def test_wrapper_reports_an_unreachable_server() -> None:
    client = ToxiproxyClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert client.running() is False
    with pytest.raises(ToxiproxyError, match=r"unreachable.*gameday proxy") as caught:
        client.proxies()
    assert caught.value.status is None
    with pytest.raises(ToxiproxyError, match="plain HTTP"):
        ToxiproxyClient("https://example.invalid:8474")
