"""Naming the saturated service from per-replica usage. Pure."""

from __future__ import annotations

from chaos.runtime.telemetry import Usage, parse_reading
from chaos.scale.saturation import attribute


def usage(cpu: float, busy: float | None = None, in_flight: float = 1.0) -> Usage:
    return Usage(seconds=5.0, cpu=cpu, in_flight=in_flight, busy=busy, wait_ms=None)


def test_a_busy_limit_names_the_service_even_with_little_cpu() -> None:
    result = attribute(
        {
            "payments": [usage(0.05, busy=0.97)],
            "orders": [usage(0.55)],
            "catalog": [usage(0.1)],
        },
        cores=2,
    )
    assert result.bottleneck == "payments"
    assert abs(result.machine_cpu - 0.7) < 1e-9
    assert "payments saturated (busy 0.97" in result.describe()


def test_a_replica_at_a_full_core_is_saturated() -> None:
    result = attribute({"orders": [usage(0.95), usage(0.2)], "payments": [usage(0.1, 0.3)]}, 2)
    assert result.bottleneck == "orders"
    assert result.services[0].cpu_max_replica == 0.95


def test_nothing_saturated_is_said_so() -> None:
    result = attribute({"orders": [usage(0.4)], "payments": [usage(0.1, busy=0.5)]}, 2)
    assert result.bottleneck is None
    assert "no service saturated (highest: payments at 0.50)" in result.describe()


def test_usage_between_two_scrapes() -> None:
    text = """# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 10.0
# TYPE http_server_active_requests gauge
http_server_active_requests{http_request_method="PUT"} 3.0
# TYPE concurrency_limit gauge
concurrency_limit{resource="processor_lines"} 2.0
# TYPE concurrency_busy_seconds counter
concurrency_busy_seconds_total{resource="processor_lines"} 100.0
# TYPE concurrency_wait_seconds histogram
concurrency_wait_seconds_sum{resource="processor_lines"} 1.0
concurrency_wait_seconds_count{resource="processor_lines"} 10.0
# TYPE backlog_items gauge
backlog_items{kind="pending_orders"} 4.0
backlog_items{kind="outbox_events"} 2.0
"""
    before = parse_reading(text, now=0.0)
    after = parse_reading(
        text.replace("10.0\n# TYPE http", "10.5\n# TYPE http")
        .replace("100.0", "103.0")
        .replace('_sum{resource="processor_lines"} 1.0', '_sum{resource="processor_lines"} 3.0')
        .replace(
            'count{resource="processor_lines"} 10.0', 'count{resource="processor_lines"} 20.0'
        ),
        now=2.0,
    )
    got = Usage.between(before, after)
    assert got is not None
    assert got.cpu == 0.25 and got.busy == 0.75 and got.in_flight == 3.0
    assert got.wait_ms == 200.0
    assert before.backlog == 6.0  # every kind of deferred work the replica owes
