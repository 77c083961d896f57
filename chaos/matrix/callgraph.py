"""Which services each journey really reaches, read from the spans of its traced requests.

The load sends a made-up W3C trace context with its requests and records the trace ids of
the sampled ones with each journey's samples (`loadtests.tracing`). The services export
their spans as OTLP JSON lines (`GAMEDAY_TRACES_DIR`). Joining the two gives, per journey:

- the services whose spans appear in its traces, and
- the synchronous edges `caller -> callee`: a SERVER span whose parent is a CLIENT span of
  another service. Messages (PRODUCER/CONSUMER spans, span links) are not synchronous calls
  and do not make an edge: a consumer that is down delays a notification, not the request.

Infrastructure without spans of its own (NATS) appears in no call graph; claims about it
come from the system file's expectations. `read_spans` is the only I/O here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.system.target import FaultTarget

logger = logging.getLogger(__name__)

SERVER, CLIENT = 2, 3  # OTLP span kinds


@dataclass(frozen=True)
class Span:
    """What the call graph needs of one span."""

    trace_id: str
    span_id: str
    parent_id: str
    service: str
    kind: int


@dataclass(frozen=True)
class JourneyGraph:
    """The services and synchronous edges one journey's traces reach."""

    journey: str
    traces: int  # traced requests whose spans were found
    services: frozenset[str] = frozenset()
    edges: frozenset[tuple[str, str]] = frozenset()

    def reaches(self, target: FaultTarget) -> bool:
        """True when the journey's requests go through `target` (a service, replica or edge)."""
        if target.kind == "edge":
            return (target.caller or "", target.service) in self.edges
        return target.service in self.services

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "journey": self.journey,
            "traces": self.traces,
            "services": sorted(self.services),
            "edges": [f"{a}->{b}" for a, b in sorted(self.edges)],
        }


@dataclass(frozen=True)
class CallGraph:
    """Every journey's graph; a journey without traces has an empty one (traces=0)."""

    journeys: Mapping[str, JourneyGraph] = field(default_factory=dict)

    def of(self, journey: str) -> JourneyGraph:
        """The graph of `journey` (empty when it had no traced request)."""
        return self.journeys.get(journey) or JourneyGraph(journey, 0)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, journeys in order."""
        return {name: graph.to_json() for name, graph in self.journeys.items()}


def build_call_graph(
    journey_traces: Mapping[str, Iterable[str]], spans: Mapping[str, list[Span]]
) -> CallGraph:
    """Join each journey's trace ids with the spans of those traces (pure)."""
    graphs = {}
    for journey, trace_ids in journey_traces.items():
        services: set[str] = set()
        edges: set[tuple[str, str]] = set()
        found = 0
        for trace_id in set(trace_ids):
            trace = spans.get(trace_id)
            if not trace:
                continue
            found += 1
            by_id = {s.span_id: s for s in trace}
            for span in trace:
                services.add(span.service)
                parent = by_id.get(span.parent_id)
                if (
                    span.kind == SERVER
                    and parent is not None
                    and parent.kind == CLIENT
                    and parent.service != span.service
                ):
                    edges.add((parent.service, span.service))
        graphs[journey] = JourneyGraph(journey, found, frozenset(services), frozenset(edges))
    return CallGraph(graphs)


def read_spans(traces_dir: Path, trace_ids: Iterable[str]) -> dict[str, list[Span]]:
    """The spans of `trace_ids` found in the OTLP JSON-lines files under `traces_dir`."""
    wanted = set(trace_ids)
    found: dict[str, list[Span]] = {}
    if not wanted or not traces_dir.is_dir():
        return found
    for path in sorted(traces_dir.glob("*.jsonl")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            logger.warning("cannot read spans from %s: %s", path, exc)
            continue
        for line in lines:
            try:
                request = json.loads(line)
            except ValueError:
                continue  # a line still being written
            for span in _spans(request):
                if span.trace_id in wanted:
                    found.setdefault(span.trace_id, []).append(span)
    return found


def _spans(request: Any) -> Iterable[Span]:
    if not isinstance(request, dict):
        return
    for resource_spans in request.get("resourceSpans") or ():
        service = _service_name(resource_spans.get("resource") or {})
        for scope in resource_spans.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                yield Span(
                    trace_id=str(span.get("traceId", "")).lower(),
                    span_id=str(span.get("spanId", "")).lower(),
                    parent_id=str(span.get("parentSpanId", "")).lower(),
                    service=service,
                    kind=int(span.get("kind", 0)),
                )


def _service_name(resource: dict[str, Any]) -> str:
    for attribute in resource.get("attributes") or ():
        if attribute.get("key") == "service.name":
            return str((attribute.get("value") or {}).get("stringValue", "unknown"))
    return "unknown"
