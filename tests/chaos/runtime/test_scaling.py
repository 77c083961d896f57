"""Scaling a running system: discovery adds and drains replicas under load, none lost."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import httpx
import pytest

from chaos.runtime import RunningSystem, start_system
from chaos.runtime.events import read_events
from tests.chaos.runtime.conftest import FAST

pytestmark = pytest.mark.slow

SYSTEM = Path(__file__).resolve().parent / "scaling-system.yaml"


class Load:
    """Calls front /call from a few threads until stopped; every answer is kept."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.answers: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url)
                    replica = response.json().get("replica", "") if response.is_success else ""
                    self.answers.append((time.monotonic(), response.status_code, replica))
                except httpx.HTTPError as exc:
                    self.answers.append((time.monotonic(), 599, type(exc).__name__))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def since(self, moment: float) -> Counter[str]:
        return Counter(r for t, s, r in self.answers if t >= moment and s == 200)


def registry(system: RunningSystem, path: str) -> dict[str, object]:
    with urllib.request.urlopen(system.control_url + path, timeout=5) as response:
        body: dict[str, object] = json.loads(response.read())
        return body


def test_replicas_join_and_drain_under_load_without_a_failed_request(tmp_path: Path) -> None:
    with start_system(SYSTEM, run_dir=tmp_path, backoff=FAST, ready_timeout=30) as system:
        front = system.url("front") + "/call"
        with Load(front) as load:
            time.sleep(1.0)
            result = system.scale("backend", 3)
            assert (result["before"], result["replicas"]) == (1, 3)
            assert system.replicas("backend") == 3
            grown = time.monotonic()
            time.sleep(1.5)
            served = load.since(grown)
            assert set(served) == {"0", "1", "2"}, served  # callers found the new replicas

            membership = registry(system, "/v1/endpoints/backend?caller=front")
            assert [e["replica"] for e in membership["endpoints"]] == [0, 1, 2]  # type: ignore[index]
            assert [p.name for p in system.topology.proxies] == [
                f"front.backend.{i}" for i in range(3)
            ]

            removed = system.scale("backend", 1)
            shrunk = time.monotonic()
            assert removed["replicas"] == 1
            time.sleep(1.0)
            assert set(load.since(shrunk)) == {"0"}
        failed = [a for a in load.answers if a[1] != 200]
        assert not failed, failed[:5]
        assert len(load.answers) > 100
        assert set(system.toxiproxy.proxies()) == {"front.backend.0"}
        events = [
            (e.event, e.replica)
            for e in read_events(system.run_dir / "events.jsonl")
            if e.service == "backend"
        ]
        assert ("removed", 1) in events and ("removed", 2) in events
        topology = json.loads((system.run_dir / "topology.json").read_text())
        assert [p["replica"] for p in topology["processes"] if p["service"] == "backend"] == [0]


def test_new_replicas_inherit_a_fault_on_their_service_until_it_is_removed(
    tmp_path: Path,
) -> None:
    with start_system(SYSTEM, run_dir=tmp_path, backoff=FAST, ready_timeout=30) as system:
        client = system.toxiproxy
        client.add_toxic(
            "front.backend.0", "latency", name="gameday-slow", attributes={"latency": 300}
        )
        system.scale("backend", 2)
        toxics = {t.name for t in client.toxics("front.backend.1")}
        assert toxics == {"gameday-slow"}  # the fault on the service covers the new replica
        started = time.monotonic()
        with httpx.Client(timeout=5) as http:
            for _ in range(4):
                http.get(system.url("front") + "/call").raise_for_status()
        assert time.monotonic() - started > 4 * 0.3  # every call was slowed, both replicas
        client.remove_toxic("front.backend.0", "gameday-slow")
        deadline = time.monotonic() + 5
        while client.toxics("front.backend.1") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.toxics("front.backend.1") == []  # removed with the original
