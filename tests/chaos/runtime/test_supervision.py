"""Pure parts of supervision and display: backoff delays, the status table."""

from __future__ import annotations

import pytest

from chaos.runtime.supervisor import Backoff
from chaos.runtime.table import render


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, cap=3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_the_count_starts_again_after_a_healthy_spell() -> None:
    backoff = Backoff(initial=1.0, factor=2.0, cap=30.0, reset_after=10.0)
    assert backoff.after_exit(0, None, now=5.0) == (1, 1.0)
    assert backoff.after_exit(1, ready_since=100.0, now=105.0) == (2, 2.0)  # up for 5 s only
    assert backoff.after_exit(2, ready_since=100.0, now=109.9) == (3, 4.0)
    assert backoff.after_exit(3, ready_since=100.0, now=110.0) == (1, 1.0)  # up for 10 s
    assert backoff.after_exit(7, ready_since=None, now=1e9) == (8, 30.0)


STATE = {
    "system": "bench",
    "run_dir": "/runs/r1",
    "supervisor": {"pid": 10},
    "toxiproxy": "http://127.0.0.1:8474",
    "prometheus": None,
    "processes": [
        {"service": "nats", "replica": 0, "pid": 11, "port": 4222, "state": "running",
         "restarts": 0, "url": "nats://127.0.0.1:4222"},
        {"service": "backend", "replica": 1, "pid": None, "port": 9001, "state": "backoff",
         "restarts": 3, "url": "http://127.0.0.1:9001"},
    ],
    "proxies": [
        {"name": "front.backend.1", "listen": "127.0.0.1:7001", "upstream": "127.0.0.1:9001"}
    ],
}  # fmt: skip


@pytest.mark.parametrize("with_health", [False, True])
def test_the_table_lists_processes_then_proxies(with_health: bool) -> None:
    healthy = {("nats", 0): True, ("backend", 1): False} if with_health else None
    lines = render(STATE, healthy).splitlines()
    assert lines[0] == "system bench  run dir /runs/r1  supervisor pid 10"
    assert lines[1] == "fault proxy API http://127.0.0.1:8474"
    if with_health:
        assert lines[3].split() == [
            "SERVICE", "REPLICA", "PID", "PORT", "STATE", "HEALTHY", "RESTARTS", "URL"
        ]  # fmt: skip
        assert lines[5].split() == [
            "backend", "1", "-", "9001", "backoff", "NO", "3", "http://127.0.0.1:9001"
        ]  # fmt: skip
    else:
        assert lines[4].split() == [
            "nats",
            "0",
            "11",
            "4222",
            "running",
            "0",
            "nats://127.0.0.1:4222",
        ]
    assert lines[-1].split() == ["front.backend.1", "127.0.0.1:7001", "127.0.0.1:9001"]
    assert lines[4].index("0") == lines[3].index("REPLICA")  # columns line up
