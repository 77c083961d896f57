"""Every endpoint and every error of the Toxiproxy API, through raw HTTP (exact bytes)."""

from __future__ import annotations

import re
import socket

import pytest

from chaos.proxy import serve_in_thread
from tests.chaos.proxy.helpers import Api, Peer, connect, eventually

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def assert_error(answer: object, status: int, message: str) -> None:
    assert answer.status == status  # type: ignore[attr-defined]
    assert answer.body == f'{{"error":"{message}","status":{status}}}\n'.encode()  # type: ignore[attr-defined]
    assert answer.headers["Content-Type"] == TEXT  # type: ignore[attr-defined]


# -- server-wide behaviour ---------------------------------------------------------------------


def test_version(api: Api) -> None:
    answer = api.get("/version")
    assert (answer.status, answer.body) == (200, b'{"version": "2.12.0"}\n')
    assert answer.headers["Content-Type"] == "application/json;charset=utf-8"


def _status_line(port: int, request: bytes) -> bytes:
    with connect(port) as sock:
        sock.sendall(request)
        line = b""
        while not line.endswith(b"\r\n"):
            line += sock.recv(1)
        return line


def test_status_lines_carry_gos_reason_phrases(api: Api, echo: Peer) -> None:
    def send(method: str, path: str, body: str = "", agent: str = "tests") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
        return _status_line(api.port, head.encode())

    proxy = f'{{"name": "db", "upstream": "{echo.address}"}}'
    assert send("GET", "/version") == b"HTTP/1.1 200 OK\r\n"
    assert send("POST", "/proxies", proxy) == b"HTTP/1.1 201 Created\r\n"
    assert send("POST", "/proxies", proxy) == b"HTTP/1.1 409 Conflict\r\n"
    assert send("POST", "/proxies", "{") == b"HTTP/1.1 400 Bad Request\r\n"
    assert send("GET", "/proxies/nope") == b"HTTP/1.1 404 Not Found\r\n"
    assert send("PUT", "/proxies") == b"HTTP/1.1 405 Method Not Allowed\r\n"
    assert send("GET", "/proxies", agent="Mozilla/5.0") == b"HTTP/1.1 403 Forbidden\r\n"
    assert send("POST", "/reset") == b"HTTP/1.1 204 No Content\r\n"
    too_big = b"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n"
    assert _status_line(api.port, too_big) == b"HTTP/1.1 413 Request Entity Too Large\r\n"


def test_every_answer_has_a_fresh_request_id(api: Api) -> None:
    answers = [
        api.get("/version"),
        api.get("/proxies/nope"),
        api.get("/nowhere"),
        api.request("PUT", "/proxies"),
    ]
    ids = [a.headers["X-Toxiproxy-Request-Id"] for a in answers]
    assert all(re.fullmatch(r"[0-9a-v]{20}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_browsers_are_refused(api: Api) -> None:
    answer = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert (answer.status, answer.body) == (403, b"User agent not allowed\n")
    assert api.get("/proxies", headers={"User-Agent": "Wget/2.1"}).status == 200


def test_unknown_paths_wrong_methods_and_unclean_paths(api: Api) -> None:
    missing = api.get("/nowhere")
    assert (missing.status, missing.body, missing.headers["Content-Type"]) == (
        404,
        b"404 page not found\n",
        TEXT,
    )
    assert api.get("/proxies/").status == 404
    wrong = api.request("PUT", "/proxies")
    assert (wrong.status, wrong.body) == (405, b"")
    assert api.request("DELETE", "/version").status == 405
    moved = api.get("//proxies")
    assert (moved.status, moved.headers["Location"]) == (301, "/proxies")
    assert api.get("/proxies/%zz").status == 400


def test_metrics_count_bytes_per_direction(api: Api, echo: Peer) -> None:
    port = api.proxy("echo", echo.address)
    with connect(port) as sock:
        sock.sendall(b"x" * 1000)
        assert len(sock.recv(4096)) > 0
    eventually(lambda: b'direction="upstream"' in api.get("/metrics").body, what="metrics")
    text = api.get("/metrics").body.decode()
    assert re.search(
        rf'toxiproxy_proxy_received_bytes_total{{direction="upstream",listener="127.0.0.1:{port}",'
        rf'proxy="echo",upstream="{echo.address}"}} 1000',
        text,
    ), text
    assert "toxiproxy_proxy_sent_bytes_total{" in text


def test_metrics_are_absent_unless_switched_on() -> None:
    with serve_in_thread() as plain:
        assert Api(plain.host, plain.port).get("/metrics").status == 404


# -- proxies -----------------------------------------------------------------------------------


def test_proxy_lifecycle_and_exact_shapes(api: Api, echo: Peer) -> None:
    assert (api.get("/proxies").status, api.get("/proxies").body) == (200, b"{}")
    created = api.post(
        "/proxies", {"name": "db", "upstream": echo.address, "listen": "127.0.0.1:0"}
    )
    assert created.status == 201
    assert created.headers["Content-Type"] == JSON
    port = int(re.search(rb'"listen":"127\.0\.0\.1:(\d+)"', created.body).group(1))  # type: ignore[union-attr]
    shape = (
        f'{{"name":"db","listen":"127.0.0.1:{port}","upstream":"{echo.address}",'
        '"enabled":true,"toxics":[]}'
    )
    assert created.body == shape.encode()
    assert api.get("/proxies/db").body == shape.encode()
    assert api.get("/proxies").body == f'{{"db":{shape}}}'.encode()
    with connect(port) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    deleted = api.delete("/proxies/db")
    assert (deleted.status, deleted.body) == (204, b"")
    assert refused(port)
    assert_error(api.get("/proxies/db"), 404, "proxy not found")
    assert_error(api.delete("/proxies/db"), 404, "proxy not found")


def test_proxies_are_listed_by_name(api: Api, echo: Peer) -> None:
    for name in ("b", "a", "c"):
        api.proxy(name, echo.address)
    assert list(api.get("/proxies").json()) == ["a", "b", "c"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            b"not json",
            400,
            "bad request body: invalid character 'o' in literal null (expecting 'u')",
        ),
        (b"{}", 400, "missing required field: name"),
        (b'{"name": "x"}', 400, "missing required field: upstream"),
        (
            b'{"name": "x", "upstream": "u:1", "listen": "local373"}',
            500,
            "listen tcp: address local373: missing port in address",
        ),
        (
            b'{"name": "x", "upstream": "u:1", "listen": "0.0.0.0:0"}',
            500,
            "listen tcp 0.0.0.0:0: refusing a non-loopback address; "
            "start `gameday proxy --allow-remote` to listen beyond this machine",
        ),
    ],
)
def test_create_errors(api: Api, body: bytes, status: int, message: str) -> None:
    assert_error(api.post("/proxies", body), status, message)
    assert api.get("/proxies").body == b"{}"


def test_create_conflicts_name_before_bind(api: Api, echo: Peer) -> None:
    port = api.proxy("db", echo.address)
    taken = api.post(
        "/proxies", {"name": "db", "upstream": echo.address, "listen": f"127.0.0.1:{port}"}
    )
    assert_error(taken, 409, "proxy already exists")
    in_use = api.post(
        "/proxies", {"name": "other", "upstream": echo.address, "listen": f"127.0.0.1:{port}"}
    )
    assert_error(in_use, 500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")


def test_listen_resolution_and_disabled_creation(api: Api, echo: Peer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    created = api.post(
        "/proxies", {"name": "l", "upstream": echo.address, "listen": f"localhost:{free}"}
    )
    assert created.json()["listen"] == f"127.0.0.1:{free}"  # type: ignore[index]
    disabled = api.post(
        "/proxies",
        {"name": "d", "upstream": echo.address, "listen": "localhost:0", "enabled": False},
    ).json()
    assert (disabled["listen"], disabled["enabled"]) == ("localhost:0", False)  # type: ignore[index]


def test_updates_by_post_and_patch(api: Api, echo: Peer, make_peer: object) -> None:
    port = api.proxy("p", echo.address)
    api.toxic("p", "latency", attributes={"latency": 1})
    live = connect(port)
    live.sendall(b"a")
    assert live.recv(1) == b"a"
    off = api.post("/proxies/p", {"enabled": False, "name": "ignored"})
    assert off.status == 200
    assert (off.json()["name"], off.json()["enabled"], len(off.json()["toxics"])) == ("p", False, 1)  # type: ignore[index]
    assert refused(port)
    assert live.recv(1) == b""  # live connections are closed
    live.close()
    on = api.patch("/proxies/p", {"enabled": True})
    assert on.json()["listen"] == f"127.0.0.1:{port}"  # type: ignore[index]
    with connect(port) as sock:
        sock.sendall(b"b")
        assert sock.recv(1) == b"b"
    other = Peer(lambda conn: conn.sendall(b"other"))
    try:
        moved = api.patch("/proxies/p", {"upstream": other.address})
        assert (moved.json()["upstream"], moved.json()["enabled"]) == (other.address, True)  # type: ignore[index]
        with connect(port) as sock:
            assert sock.recv(5) == b"other"
    finally:
        other.close()
    assert_error(api.patch("/proxies/nope", {}), 404, "proxy not found")
    bad = api.patch("/proxies/p", b"[")
    assert bad.status == 400


def test_failed_rebind_leaves_the_proxy_disabled(api: Api, echo: Peer) -> None:
    api.proxy("p", echo.address)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        answer = api.patch("/proxies/p", {"listen": f"127.0.0.1:{busy}"})
        assert_error(answer, 500, f"listen tcp 127.0.0.1:{busy}: bind: address already in use")
    proxy = api.get("/proxies/p").json()
    assert (proxy["enabled"], proxy["listen"]) == (False, f"127.0.0.1:{busy}")  # type: ignore[index]


# -- toxics ------------------------------------------------------------------------------------


def test_toxic_lifecycle_and_shapes(api: Api, echo: Peer) -> None:
    api.proxy("p", echo.address)
    assert api.get("/proxies/p/toxics").body == b"[]"
    created = api.post(
        "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 5, "jitter": 1}}
    )
    shape = (
        b'{"attributes":{"latency":5,"jitter":1},"name":"latency_downstream",'
        b'"type":"latency","stream":"downstream","toxicity":1}'
    )
    assert (created.status, created.body, created.headers["Content-Type"]) == (200, shape, JSON)
    assert api.get("/proxies/p/toxics/latency_downstream").body == shape
    api.toxic("p", "bandwidth", stream="upstream", toxicity=0.5, attributes={"rate": 100})
    listed = api.get("/proxies/p/toxics").json()
    assert [t["name"] for t in listed] == ["bandwidth_upstream", "latency_downstream"]  # type: ignore[index,union-attr]
    assert listed[0]["toxicity"] == 0.5  # type: ignore[index]
    for method in ("POST", "PATCH"):
        updated = api.request(
            method, "/proxies/p/toxics/latency_downstream", {"attributes": {"latency": 9}}
        )
        assert updated.json()["attributes"] == {"latency": 9, "jitter": 1}  # type: ignore[index]
        assert updated.json()["toxicity"] == 1  # type: ignore[index]
    proxy_shape = api.get("/proxies/p").json()
    assert [t["name"] for t in proxy_shape["toxics"]] == [
        "bandwidth_upstream",
        "latency_downstream",
    ]  # type: ignore[index]
    assert (
        api.delete("/proxies/p/toxics/latency_downstream").status,
        api.delete("/proxies/p/toxics/bandwidth_upstream").body,
    ) == (204, b"")
    assert_error(api.get("/proxies/p/toxics/latency_downstream"), 404, "toxic not found")
    assert_error(api.delete("/proxies/p/toxics/latency_downstream"), 404, "toxic not found")
    assert_error(api.patch("/proxies/p/toxics/latency_downstream", {}), 404, "toxic not found")


def test_toxic_errors(api: Api, echo: Peer) -> None:
    api.proxy("p", echo.address)
    api.toxic("p", "latency", name="same", stream="upstream")
    assert_error(api.post("/proxies/nope/toxics", {"type": "latency"}), 404, "proxy not found")
    assert_error(api.get("/proxies/nope/toxics"), 404, "proxy not found")
    assert_error(api.get("/proxies/nope/toxics/x"), 404, "proxy not found")
    assert_error(
        api.post("/proxies/p/toxics", {"type": "latency", "stream": "sideways"}),
        400,
        "stream was invalid, can be either upstream or downstream",
    )
    assert_error(api.post("/proxies/p/toxics", {"type": "lag"}), 400, "invalid toxic type")
    assert_error(
        api.post("/proxies/p/toxics", {"type": "latency", "name": "same"}),
        409,
        "toxic already exists",
    )
    assert_error(
        api.post("/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 2.5}}),
        400,
        "bad request body: json: cannot unmarshal number 2.5 into Go struct field "
        "LatencyToxic.attributes.latency of type int64",
    )
    assert_error(api.post("/proxies/p/toxics", b""), 400, "bad request body: EOF")
    noop = api.toxic("p", "noop")
    assert (noop["name"], noop["attributes"]) == ("noop_downstream", {})


# -- populate and reset --------------------------------------------------------------------------


def test_populate_keeps_same_replaces_different_and_ignores_others(api: Api, echo: Peer) -> None:
    kept = api.proxy("kept", echo.address)
    api.toxic("kept", "latency")
    api.patch("/proxies/kept", {"enabled": False})
    api.proxy("replaced", echo.address)
    api.toxic("replaced", "latency")
    api.proxy("untouched", echo.address)
    answer = api.post(
        "/populate",
        [
            {"name": "kept", "listen": f"localhost:{kept}", "upstream": echo.address},
            {"name": "replaced", "listen": "127.0.0.1:0", "upstream": echo.address},
            {"name": "new", "listen": "127.0.0.1:0", "upstream": echo.address, "enabled": False},
        ],
    )
    assert answer.status == 201
    listed = {p["name"]: p for p in answer.json()["proxies"]}  # type: ignore[index]
    assert list(listed) == ["kept", "replaced", "new"]
    assert (listed["kept"]["enabled"], len(listed["kept"]["toxics"])) == (False, 1)
    assert (listed["replaced"]["enabled"], listed["replaced"]["toxics"]) == (True, [])
    assert listed["new"]["enabled"] is False
    assert set(api.get("/proxies").json()) == {"kept", "replaced", "new", "untouched"}  # type: ignore[arg-type]
    assert api.post("/populate", []).body == b'{"proxies":null}'


def test_populate_validates_everything_first(api: Api, echo: Peer) -> None:
    answer = api.post(
        "/populate",
        [{"name": "one", "upstream": echo.address, "listen": "127.0.0.1:0"}, {"name": ""}],
    )
    assert answer.status == 400
    assert answer.headers["Content-Type"] == JSON
    assert (
        answer.body
        == b'{"error":"missing required field: name at proxy 2","status":400,"proxies":null}'
    )
    assert api.get("/proxies").body == b"{}"
    assert (
        api.post("/populate", b"{").body
        == b'{"error":"bad request body: unexpected EOF","status":400,"proxies":null}'
    )


def test_populate_stops_at_a_bind_failure_and_lists_what_it_did(api: Api, echo: Peer) -> None:
    answer = api.post(
        "/populate",
        [
            {"name": "one", "upstream": echo.address, "listen": "127.0.0.1:0"},
            {"name": "two", "upstream": echo.address, "listen": "local373"},
            {"name": "three", "upstream": echo.address, "listen": "127.0.0.1:0"},
        ],
    )
    assert answer.status == 500
    body = answer.json()
    assert body["error"] == "listen tcp: address local373: missing port in address"  # type: ignore[index]
    assert [p["name"] for p in body["proxies"]] == ["one"]  # type: ignore[index]
    assert set(api.get("/proxies").json()) == {"one"}  # type: ignore[arg-type]


def test_reset_enables_everything_and_removes_every_toxic(api: Api, echo: Peer) -> None:
    port = api.proxy("a", echo.address)
    api.toxic("a", "latency")
    api.toxic("a", "timeout", stream="upstream")
    api.patch("/proxies/a", {"enabled": False})
    api.post(
        "/proxies",
        {"name": "b", "upstream": echo.address, "listen": "127.0.0.1:0", "enabled": False},
    )
    answer = api.post("/reset")
    assert (answer.status, answer.body) == (204, b"")
    proxies = api.get("/proxies").json()
    assert {n: (p["enabled"], p["toxics"]) for n, p in proxies.items()} == {
        "a": (True, []),
        "b": (True, []),
    }  # type: ignore[union-attr]
    assert proxies["a"]["listen"] == f"127.0.0.1:{port}"  # type: ignore[index]
