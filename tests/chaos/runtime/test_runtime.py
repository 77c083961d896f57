"""The runtime with real processes on loopback: proxies in the path, kill, pause, restarts."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from chaos.errors import ConfigInvalid, RuntimeFailure
from chaos.runtime import RunningSystem, start_system
from chaos.runtime.events import read_events
from chaos.system.model import SystemSpec, parse_system
from tests.chaos.runtime import natsproto, procs
from tests.chaos.runtime.conftest import FAST, SYSTEM, get
from tests.support import ROOT

pytestmark = pytest.mark.slow


def events_of(system: RunningSystem, service: str, replica: int) -> list[tuple[str, int | None]]:
    return [
        (e.event, e.pid)
        for e in read_events(system.run_dir / "events.jsonl")
        if (e.service, e.replica) == (service, replica)
    ]


def test_callers_reach_dependencies_only_through_their_proxies(bench: RunningSystem) -> None:
    status, env = get(bench.url("front") + "/env")
    assert status == 200
    listens = {name: p.listen for name, p in bench.toxiproxy.proxies().items()}
    assert env["BACKEND_URLS"] == ",".join(
        f"http://{listens[f'front.backend.{i}']}" for i in range(2)
    )
    assert env["NATS_URLS"] == f"nats://{listens['front.nats.0']}"
    assert env["BACKEND_URLS"].split(",") == bench.proxy_urls("front", "backend")
    assert env["GAMEDAY_RUN_DIR"] == str(bench.run_dir)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)

    answers = [get(bench.url("front") + "/call") for _ in range(2)]
    assert [s for s, _ in answers] == [200, 200]
    assert {a["upstream"]["replica"] for _, a in answers} == {"0", "1"}
    assert {a["via"] for _, a in answers} == set(bench.proxy_urls("front", "backend"))

    for i in range(2):
        bench.toxiproxy.disable(f"front.backend.{i}")
    try:
        status, body = get(bench.url("front") + "/call")
        assert status == 502, body
        # the backends themselves are fine: only the edge is down
        assert all(get(url + "/readyz")[0] == 200 for url in bench.urls("backend"))
    finally:
        for i in range(2):
            bench.toxiproxy.enable(f"front.backend.{i}")
    assert get(bench.url("front") + "/call")[0] == 200

    assert get(bench.url("front") + "/nats")[0] == 200
    bench.toxiproxy.disable("front.nats.0")
    try:
        assert get(bench.url("front") + "/nats")[0] == 502
    finally:
        bench.toxiproxy.enable("front.nats.0")
    assert get(bench.url("front") + "/nats")[0] == 200


def test_a_killed_replica_is_restarted_with_growing_backoff(bench: RunningSystem) -> None:
    first = bench.pid("backend", 1)
    restarts = bench.restarts("backend", 1)
    assert first is not None
    bench.kill("backend", 1)
    assert bench.state("backend", 1) == "backoff" and bench.pid("backend", 1) is None
    assert not procs.alive({first}, {first})  # the whole group is gone
    bench.wait_healthy("backend", 1, timeout=15)
    second = bench.pid("backend", 1)
    assert second not in (None, first)
    assert bench.restarts("backend", 1) == restarts + 1

    bench.kill("backend", 1)  # again, before reset_after: the delay doubles
    bench.wait_healthy("backend", 1, timeout=15)
    exits = [
        e for e in read_events(bench.run_dir / "events.jsonl")
        if e.event == "exited" and (e.service, e.replica) == ("backend", 1)
    ]  # fmt: skip
    assert [(e.pid, e.code, e.delay) for e in exits[-2:]] == [
        (first, -9, FAST.initial),
        (second, -9, FAST.initial * FAST.factor),
    ]
    third = bench.pid("backend", 1)
    assert events_of(bench, "backend", 1)[-6:] == [
        ("exited", first), ("started", second), ("ready", second),
        ("exited", second), ("started", third), ("ready", third),
    ]  # fmt: skip
    # the restarted replica listens on the same port, so its proxy works again
    status, body = get(
        bench.toxiproxy.get_proxy("front.backend.1").listen.join(["http://", "/whoami"])
    )
    assert status == 200 and body["pid"] == bench.pid("backend", 1)


def test_a_replica_that_dies_on_its_own_is_restarted(bench: RunningSystem) -> None:
    pid = bench.pid("front")
    assert pid is not None
    restarts = bench.restarts("front")
    os.kill(pid, signal.SIGKILL)  # not through the API: the supervisor must notice by itself
    assert bench.supervisor.wait_for(lambda: bench.restarts("front") == restarts + 1, timeout=10)
    bench.wait_healthy("front", timeout=15)
    exited = [e for e in read_events(bench.run_dir / "events.jsonl") if e.event == "exited"]
    assert (exited[-1].service, exited[-1].pid, exited[-1].code) == ("front", pid, -9)
    assert exited[-1].detail == "" and exited[-1].delay == FAST.initial
    assert get(bench.url("front") + "/call")[0] == 200


def test_kill_without_restart_keeps_it_down_until_started(bench: RunningSystem) -> None:
    old = bench.pid("backend", 0)
    bench.kill("backend", 0, restart=False)
    passes = bench.supervisor.passes
    assert bench.supervisor.wait_for(lambda: bench.supervisor.passes >= passes + 5, timeout=10)
    assert bench.state("backend", 0) == "stopped" and bench.pid("backend", 0) is None
    assert get(bench.url("backend", 0) + "/readyz", timeout=1)[0] == 599
    assert events_of(bench, "backend", 0)[-1] == ("killed", old)
    with pytest.raises(
        RuntimeFailure,
        match=r"is stopped, so it cannot become healthy; call system\.start\('backend', 0\)",
    ):
        bench.wait_healthy("backend", 0, timeout=1)

    bench.start("backend", 0, timeout=15)
    assert bench.state("backend", 0) == "running"
    assert get(bench.url("backend", 0) + "/whoami")[1]["pid"] == bench.pid("backend", 0) != old


def test_a_paused_replica_is_left_alone_until_resumed(bench: RunningSystem) -> None:
    pid = bench.pid("backend", 0)
    assert pid is not None
    restarts = bench.restarts("backend", 0)
    bench.pause("backend", 0)
    try:
        assert procs.table()[pid].stat.startswith("T")
        assert get(bench.url("backend", 0) + "/readyz", timeout=0.5)[0] == 599
        passes = bench.supervisor.passes
        assert bench.supervisor.wait_for(lambda: bench.supervisor.passes >= passes + 5, timeout=10)
        assert (bench.state("backend", 0), bench.pid("backend", 0)) == ("paused", pid)
        assert bench.restarts("backend", 0) == restarts
        with pytest.raises(RuntimeFailure, match=r"is paused, .*system\.resume\('backend', 0\)"):
            bench.wait_healthy("backend", 0, timeout=1)
    finally:
        bench.resume("backend", 0)
    bench.wait_healthy("backend", 0, timeout=10)
    assert bench.pid("backend", 0) == pid
    assert [e for e, _ in events_of(bench, "backend", 0)[-2:]] == ["paused", "resumed"]


def test_nats_restarts_with_its_data_and_jetstream_keeps_streams(bench: RunningSystem) -> None:
    nats = bench.url("nats")
    created = natsproto.request(
        nats, "$JS.API.STREAM.CREATE.ORDERS", {"name": "ORDERS", "subjects": ["orders.>"]}
    )
    assert "error" not in created, created
    ack = natsproto.request(nats, "orders.placed", "order 1")
    assert ack["stream"] == "ORDERS", ack
    bench.kill("nats", 0, restart=True)
    bench.wait_healthy("nats", 0, timeout=15)
    info = natsproto.request(nats, "$JS.API.STREAM.INFO.ORDERS", "")
    assert info["state"]["messages"] == 1, info
    assert (bench.run_dir / "data" / "nats" / "jetstream").is_dir()
    assert get(bench.url("front") + "/nats")[0] == 200  # through front.nats.0 again


def test_a_restarted_fault_proxy_gets_its_proxies_back(bench: RunningSystem) -> None:
    before = bench.toxiproxy.proxies()
    bench.kill("gameday-proxy", 0)
    assert get(bench.url("front") + "/call", timeout=3)[0] == 502
    bench.wait_healthy("gameday-proxy", 0, timeout=15)
    assert bench.toxiproxy.proxies() == before  # same names, listen and upstream addresses
    assert get(bench.url("front") + "/call")[0] == 200


def test_the_run_directory_holds_topology_targets_logs_and_events(bench: RunningSystem) -> None:
    topology = json.loads((bench.run_dir / "topology.json").read_text())
    assert topology["toxiproxy"] == bench.toxiproxy_url
    assert [p["name"] for p in topology["proxies"]] == [
        "front.backend.0", "front.backend.1", "front.nats.0",
    ]  # fmt: skip
    targets = json.loads((bench.run_dir / "prometheus" / "targets.json").read_text())
    assert sorted((t["labels"]["service"], t["labels"]["replica"]) for t in targets) == [
        ("backend", "0"), ("backend", "1"), ("front", "0"), ("gameday-proxy", "0"),
    ]  # fmt: skip
    assert "listening on 127.0.0.1" in (bench.run_dir / "logs" / "front-0.log").read_text()
    assert ("ready", bench.pid("front")) in events_of(bench, "front", 0)


NATS = "  nats: {command: 'nats-server -a 127.0.0.1 -p {port}', ready: tcp}\n"
APP = "'{python} -m tests.chaos.runtime.app --port {port}"


def _system(tmp_path: Path, services: str) -> tuple[SystemSpec, Path]:
    text = f"name: broken\nservices:\n{services}infrastructure:\n{NATS}"
    return parse_system(text, source="broken.yaml", root=ROOT), tmp_path / "run"


def test_a_service_that_dies_at_start_fails_the_start_and_stops_the_rest(tmp_path: Path) -> None:
    spec, run_dir = _system(
        tmp_path,
        f"  early:\n    command: {APP}'\n"
        f"  broken:\n    command: {APP} --exit-at-start 3'\n    depends_on: [early]\n",
    )
    with pytest.raises(RuntimeFailure) as caught, start_system(spec, run_dir=run_dir):
        pass
    message = str(caught.value)
    assert "service broken replica 0 exited with code 3 before it was ready" in message
    assert "app: exiting at start as asked" in message and "broken-0.log" in message
    started = {e.pid for e in read_events(run_dir / "events.jsonl") if e.pid is not None}
    assert len(started) == 4  # fault proxy, nats, early, broken
    assert not procs.alive(started, started) and not procs.with_run_dir(run_dir)


def test_a_crash_looping_service_backs_off_longer_each_time(tmp_path: Path) -> None:
    spec, run_dir = _system(tmp_path, f"  flaky:\n    command: {APP} --exit-after 0.6'\n")
    with start_system(spec, run_dir=run_dir, backoff=FAST) as system:
        done = system.supervisor.wait_for(lambda: system.restarts("flaky") >= 3, timeout=20)
        assert done, system.status()
    exits = [e for e in read_events(run_dir / "events.jsonl") if e.event == "exited"]
    assert [(e.service, e.code) for e in exits[:3]] == [("flaky", 1)] * 3
    assert [e.delay for e in exits[:3]] == [0.2, 0.4, 0.8]
    log = (run_dir / "logs" / "flaky-0.log").read_text()
    assert log.count("--- gameday: starting flaky/0") >= 4  # first start and three restarts


def test_a_service_that_never_gets_ready_times_out_with_what_it_answered(tmp_path: Path) -> None:
    spec, run_dir = _system(tmp_path, f"  slow:\n    command: {APP}'\n    health: /never\n")
    with (
        pytest.raises(
            RuntimeFailure, match=r"service slow replica 0 was not ready within 1s .*404"
        ),
        start_system(spec, run_dir=run_dir, ready_timeout=1.0),
    ):
        pass
    assert not procs.with_run_dir(run_dir)


def test_a_missing_program_is_reported_before_anything_starts(tmp_path: Path) -> None:
    spec, run_dir = _system(
        tmp_path, "  ghost:\n    command: 'no-such-program-xyz --port {port}'\n"
    )
    message = (
        r"broken\.yaml:3: services\.ghost\.command runs 'no-such-program-xyz', which is not on"
    )
    with pytest.raises(ConfigInvalid, match=message), start_system(spec, run_dir=run_dir):
        pass
    assert not run_dir.exists()


def test_leaving_the_block_stops_every_process(tmp_path: Path) -> None:
    with start_system(SYSTEM, run_dir=tmp_path, replicas={"backend": 1}) as system:
        leaders = {row.pid for row in system.status() if row.pid is not None}
        pids = set().union(*(procs.descendants(pid) for pid in leaders))
        assert len(leaders) == 4 and procs.with_run_dir(tmp_path) == pids
        system.pause("backend", 0)  # a stopped process must go too
    assert not procs.alive(pids, pids)
