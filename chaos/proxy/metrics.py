"""The optional /metrics endpoint, with Toxiproxy's metric names.

`--proxy-metrics` exposes `toxiproxy_proxy_received_bytes_total` and
`toxiproxy_proxy_sent_bytes_total` labelled `direction, proxy, listener, upstream`, as
Toxiproxy does (its labels are proxy definitions, bounded by the proxies that exist);
`--runtime-metrics` adds the Python process metrics of prometheus_client. Counts of open
connections are read live at scrape time; closed ones are kept in totals.
"""

from __future__ import annotations

from collections.abc import Iterable

Labels = tuple[str, str, str, str]  # direction, proxy, listener, upstream
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_COUNTERS = (
    ("toxiproxy_proxy_received_bytes_total", "Bytes a proxy read from the sending side of a link."),
    ("toxiproxy_proxy_sent_bytes_total", "Bytes a proxy wrote to the receiving side of a link."),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ProxyMetrics:
    """Byte totals per (direction, proxy, listener, upstream) of connections that ended."""

    def __init__(self) -> None:
        self._totals: dict[Labels, list[int]] = {}

    def add(self, labels: Labels, received: int, sent: int) -> None:
        """Fold a finished link's counts into the totals."""
        totals = self._totals.setdefault(labels, [0, 0])
        totals[0] += received
        totals[1] += sent

    def snapshot(self, live: Iterable[tuple[Labels, int, int]]) -> dict[Labels, tuple[int, int]]:
        """Totals plus the live counts of open connections."""
        merged = {labels: [received, sent] for labels, (received, sent) in self._totals.items()}
        for labels, received, sent in live:
            counts = merged.setdefault(labels, [0, 0])
            counts[0] += received
            counts[1] += sent
        return {labels: (counts[0], counts[1]) for labels, counts in merged.items()}

    def render(self, live: Iterable[tuple[Labels, int, int]]) -> str:
        """Prometheus text exposition of both counters (labels in alphabetical order)."""
        snapshot = sorted(self.snapshot(live).items())
        lines: list[str] = []
        for index, (name, help_text) in enumerate(_COUNTERS):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} counter")
            for (direction, proxy, listener, upstream), counts in snapshot:
                labels = (
                    f'direction="{_escape(direction)}",listener="{_escape(listener)}",'
                    f'proxy="{_escape(proxy)}",upstream="{_escape(upstream)}"'
                )
                lines.append(f"{name}{{{labels}}} {counts[index]}")
        return "\n".join(lines) + "\n"


def runtime_metrics() -> str:
    """Process, platform and GC metrics of this Python process (prometheus_client)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.gc_collector import GCCollector
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return generate_latest(registry).decode("utf-8")
