"""Hostile API input (hypothesis): every request gets an answer, the server keeps serving, and a
proxy that carries traffic meanwhile never loses a byte."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.proxy import serve_in_thread
from chaos.proxy.toxics import TOXIC_TYPES
from tests.chaos.proxy.helpers import Api, Peer, connect, echo_handler, recv_exactly

PROTECTED = "live"
ALLOWED = {200, 201, 204, 301, 400, 403, 404, 405, 409, 413, 431}
TYPES = sorted(TOXIC_TYPES)
ATTRIBUTES = sorted({name for kind in TOXIC_TYPES.values() for name, _go in kind.attributes})

types = st.sampled_from(TYPES)
attribute_names = st.sampled_from(ATTRIBUTES)
names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), max_size=12
)
safe_names = names.filter(lambda n: n != PROTECTED)
listens = st.sampled_from(
    ["127.0.0.1:0", "localhost:0", "local373", "[::1]:0", ":0", "0.0.0.0:0", "127.0.0.1:1", "x:y:z"]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    listens,
    st.sampled_from(["upstream", "downstream", "UPSTREAM", "sideways", ""]),
    types,
)
keys = st.one_of(
    st.sampled_from(
        ["name", "listen", "upstream", "enabled", "type", "stream", "toxicity", "attributes"]
    ),
    attribute_names,
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=20,
)


def _safe(document: object) -> bool:
    """Keep the fuzzer away from the proxy under observation (it may do anything else)."""
    return PROTECTED not in json.dumps(document)


def _q(name: str) -> str:
    return quote(name, safe="")


bodies = st.one_of(
    documents.filter(_safe).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200).filter(lambda b: PROTECTED.encode() not in b),
)
paths = st.one_of(
    st.sampled_from(["/proxies", "/populate", "/reset", "/version", "/metrics", "/", "//proxies"]),
    safe_names.map(lambda n: f"/proxies/{_q(n)}"),
    st.tuples(safe_names, names).map(lambda t: f"/proxies/{_q(t[0])}/toxics/{_q(t[1])}"),
    safe_names.map(lambda n: f"/proxies/{_q(n)}/toxics"),
    st.text(alphabet="/abcpx%.?=&0", max_size=16).map(lambda p: "/" + p),
)
methods = st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"])

# Structured requests reach deep into the handlers: a few proxy and toxic names recur, so
# creates, conflicts, updates and deletes meet each other; values stay hostile.
pool = st.sampled_from(["a", "b", "c"])
toxic_pool = st.sampled_from(["latency_downstream", "t1", "t2", "slicer_upstream"])
wild_ints = st.one_of(
    st.integers(-5, 5000),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
)
attributes = st.dictionaries(
    st.one_of(attribute_names, st.just("x")), st.one_of(wild_ints, scalars), max_size=4
)
proxy_bodies = st.fixed_dictionaries(
    {
        "name": st.one_of(pool, pool, pool, safe_names),
        "upstream": st.one_of(st.just("127.0.0.1:1"), scalars),
    },
    optional={"listen": st.one_of(listens, scalars), "enabled": st.one_of(st.booleans(), scalars)},
)
toxic_bodies = st.fixed_dictionaries(
    {"type": st.one_of(types, scalars)},
    optional={
        "name": st.one_of(toxic_pool, scalars),
        "stream": st.one_of(st.sampled_from(["upstream", "downstream", "Downstream"]), scalars),
        "toxicity": st.one_of(st.floats(-1, 2), scalars),
        "attributes": st.one_of(attributes, scalars),
    },
)
edits = st.sampled_from(["GET", "POST", "PATCH", "DELETE"])
structured = st.one_of(
    st.tuples(st.just("POST"), st.just("/proxies"), proxy_bodies),
    st.tuples(edits, pool.map(lambda n: f"/proxies/{n}"), proxy_bodies),
    st.tuples(
        st.sampled_from(["GET", "POST"]), pool.map(lambda n: f"/proxies/{n}/toxics"), toxic_bodies
    ),
    st.tuples(
        edits,
        st.tuples(pool, toxic_pool).map(lambda t: f"/proxies/{t[0]}/toxics/{t[1]}"),
        toxic_bodies,
    ),
    st.tuples(st.just("POST"), st.just("/populate"), st.lists(proxy_bodies, max_size=3)),
    st.tuples(st.just("POST"), st.just("/reset"), st.none()),
).map(lambda t: (t[0], t[1], json.dumps(t[2]).encode()))
requests_ = st.one_of(structured, structured, st.tuples(methods, paths, bodies))


class Stream:
    """Echo traffic through the protected proxy, checked chunk by chunk, in a thread."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port, timeout=30)
        self.sent = hashlib.sha256()
        self.received = hashlib.sha256()
        self.count = 0
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                block = os.urandom(4096)
                self.sock.sendall(block)
                self.sent.update(block)
                self.received.update(recv_exactly(self.sock, len(block)))
                self.count += 1
        except BaseException as exc:
            self.failure = exc

    def finish(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.sock.close()


@pytest.fixture
def fuzz_target() -> Iterator[tuple[Api, Stream]]:
    peer = Peer(echo_handler)
    with serve_in_thread(seed=3, proxy_metrics=True) as server:
        api = Api(server.host, server.port)
        stream = Stream(api.proxy(PROTECTED, peer.address))
        yield api, stream
        stream.finish()
    peer.close()


def test_hostile_requests_never_hurt_the_server_or_live_traffic(
    fuzz_target: tuple[Api, Stream],
) -> None:
    api, stream = fuzz_target

    @settings(
        max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(request=requests_)
    def one_request(request: tuple[str, str, bytes]) -> None:
        method, path, body = request
        answer = api.request(method, path, body=body, headers={"Content-Type": "application/json"})
        if answer.status == 500:
            assert json.loads(answer.body)["error"].startswith("listen tcp"), answer.body
        else:
            assert answer.status in ALLOWED, (answer.status, answer.body)
        assert answer.headers["X-Toxiproxy-Request-Id"]

    one_request()
    before = stream.count
    assert api.get("/version").status == 200
    assert api.get(f"/proxies/{PROTECTED}").json()["enabled"] is True  # type: ignore[index]
    for name in api.get("/proxies").json():  # type: ignore[union-attr]
        if name != PROTECTED:
            assert api.delete(f"/proxies/{quote(name, safe='')}").status == 204
    stream.finish()
    assert stream.failure is None
    assert stream.count > before > 0
    assert stream.sent.digest() == stream.received.digest()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(garbage=st.binary(min_size=1, max_size=300))
def test_raw_garbage_on_the_api_socket(garbage: bytes) -> None:
    with serve_in_thread() as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(garbage + b"\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        assert Api(server.host, server.port).get("/version").status == 200


def test_oversized_and_slow_requests_are_refused(fuzz_target: tuple[Api, Stream]) -> None:
    api, stream = fuzz_target
    assert api.post("/proxies", b"[" * 100_000).status == 400  # nesting too deep
    with socket.create_connection((api.host, api.port), timeout=5) as big:
        big.sendall(b"POST /populate HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n[")
        assert big.recv(100).startswith(b"HTTP/1.1 413 ")  # refused before reading 2 MiB
    assert api.get("/version", headers={"X-Big": "x" * (100 << 10)}).status == 431
    with socket.create_connection((api.host, api.port), timeout=5) as idle:
        idle.sendall(b"GET /version HTTP/1.1\r\n")  # never finishes: others are still served
        assert api.get("/version").status == 200
    assert stream.failure is None


toxic_cases = st.tuples(
    types,
    st.sampled_from(["upstream", "downstream"]),
    st.floats(0, 1),
    st.dictionaries(
        attribute_names,
        st.one_of(st.integers(-10, 3000), st.integers(-(2**63), 2**63 - 1)),
        max_size=4,
    ),
)


def test_wild_toxic_values_on_live_links(
    fuzz_target: tuple[Api, Stream], caplog: pytest.LogCaptureFixture
) -> None:
    """Any toxic the API accepts may act on live connections without a stage crashing."""
    api, stream = fuzz_target
    peer = Peer(echo_handler)
    port = api.proxy("wild", peer.address)

    @settings(
        max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(first=toxic_cases, second=toxic_cases)
    def apply(
        first: tuple[str, str, float, dict[str, int]],
        second: tuple[str, str, float, dict[str, int]],
    ) -> None:
        assert api.post("/reset").status == 204

        def send(sock: socket.socket, size: int) -> None:
            with contextlib.suppress(OSError):  # timeout/reset_peer/limit_data may close it
                sock.sendall(os.urandom(size))

        with connect(port, timeout=5) as sock:
            send(sock, 20_000)
            kind, direction, toxicity, attributes = first
            body = {
                "name": "w",
                "type": kind,
                "stream": direction,
                "toxicity": toxicity,
                "attributes": attributes,
            }
            created = api.post("/proxies/wild/toxics", body)
            if created.status == 200:
                send(sock, 20_000)
                updated = api.patch(
                    "/proxies/wild/toxics/w", {"toxicity": second[2], "attributes": second[3]}
                )
                assert updated.status in (200, 400), updated.body
                send(sock, 1000)
                assert api.delete("/proxies/wild/toxics/w").status == 204
            else:
                assert created.status == 400, created.body

    try:
        apply()
        assert api.post("/reset").status == 204
        with connect(port) as sock:
            sock.sendall(b"still fine")
            assert recv_exactly(sock, 10) == b"still fine"
    finally:
        peer.close()
    assert not [
        r for r in caplog.records if r.name.startswith("chaos.proxy") and r.levelname == "ERROR"
    ]
    assert stream.failure is None
