"""Run directories made from data, without running a system: a matrix and an experiment.

The load is synthetic (samples written with SamplesWriter, latencies drawn from a seeded
generator, each journey's behaviour in each fault window scripted), everything else is the
real thing: the plan from `plan_cells`, claims from `expect` over a call graph built from
spans, the verdict from `judge_matrix` / `judge`, the journal from `Journal`. So the
fixtures follow the formats the runners write, and a report test fails when they change.

The toy system: `web` (public) calls `stock` (2 replicas) and `pay`; journeys `browse`
(web -> stock) and `buy` (web -> stock, pay). Scripted:

- pay:down: buy fails fast with 503 (degraded, as declared): passes, 1 journey moved;
- pay:latency: browse, claimed unaffected, slows down in both attempts: fails;
- stock:latency: browse and buy slow (both degraded, derived from traces): passes;
- web:hostile_input: three 500 answers (one body is HTML): fails on its own record;
- stock/0:kill: the invariants ran after it (and held);
- stock:down: planned, never run (the run "ended" before it);
- web:latency: skipped (nothing calls web through a proxy); web->pay:*: same as pay:*.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.experiment.file import parse_experiment
from chaos.experiment.model import Experiment
from chaos.experiment.runner import RunResult
from chaos.faults.journal import Journal
from chaos.judgement.matrix import CellRecord, CellWindows, judge_matrix
from chaos.judgement.verdict import Phases, judge
from chaos.matrix.callgraph import CLIENT, SERVER, Span, build_call_graph
from chaos.matrix.expectations import expect
from chaos.matrix.plan import plan_cells
from chaos.matrix.runner import MatrixResult  # the journal's plan, as written
from chaos.matrix.runner import cell_json as _cell_json
from chaos.system.model import SystemSpec, parse_system
from loadtests.samples import Sample, SamplesWriter
from loadtests.windows import Window, read_run

SYSTEM = """\
name: toy
services:
  web:
    command: "{python} -m toy.web --port {port}"
    depends_on: [stock, pay]
    public: true
  stock:
    command: "{python} -m toy.stock --port {port}"
    replicas: 2
  pay:
    command: "{python} -m toy.pay --port {port}"
journeys:
  browse: {p95: 300ms, error_rate: 2%}
  buy: {p95: 500ms, error_rate: 2%}
expectations:
  - fault: {target: pay, kind: down}
    unaffected: [browse]
    degraded: [buy]
load: {locustfile: locustfile.py, users: 2}
matrix:
  faults: [down, latency, kill, hostile_input]
  warmup: 1s
  baseline: 8s
  window: 3s
  recover_within: 10s
  settle: 2s
"""

EXPERIMENT = """\
name: pay-slow
description: pay answers 2 s late; buy fails fast, browse is untouched.
system: system.yaml
load: {locustfile: locustfile.py, users: 2}
schedule: {warmup: 2s, baseline: 8s, fault: 6s, recovery: 6s}
faults:
  - target: {service: pay}
    kind: latency
    attributes: {latency: 2s}
hypothesis:
  steady: [browse]
  degraded:
    buy: {max_latency: 800ms, errors: ["503"]}
  recover_within: 2s
"""

JOURNEYS = ("browse", "buy")
PER_SECOND = 25  # requests per journey and second
T0 = 1_800_000_000  # the first second of the load
BASELINE = Window("baseline", T0 + 1, T0 + 9)
HOSTILE_500_BODY = '<html><script>alert("x")</script></html>'


@dataclass(frozen=True)
class Effect:
    """What a fault does to a journey during its window: slower by `extra_ms`, or failing."""

    extra_ms: float = 0.0
    error: str | None = None


# (cell, journey) -> effect in that cell's fault window
EFFECTS = {
    ("pay:down", "buy"): Effect(error="503"),
    ("pay:latency", "browse"): Effect(extra_ms=400.0),
    ("pay:latency", "buy"): Effect(error="503"),
    ("stock:latency", "browse"): Effect(error="504"),
    ("stock:latency", "buy"): Effect(error="504"),
}
ORDER = ("pay:down", "pay:latency", "stock:latency", "web:hostile_input", "stock/0:kill")
AGAIN = ("pay:latency",)  # failed once: run again at the end, as the runner does


def trace_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128) or 1:032x}"


def write_samples(
    run_dir: Path, effects: dict[Window, dict[str, Effect]], end: int, *, traced: bool
) -> dict[str, list[str]]:
    """Samples from T0 to `end`; returns the trace ids of each journey in the baseline."""
    rng = random.Random(7)
    base = {"browse": 40.0, "buy": 90.0}
    traces: dict[str, list[str]] = {j: [] for j in JOURNEYS}
    with SamplesWriter(run_dir / "load" / "samples.jsonl") as writer:
        for second in range(T0, end):
            effect = next((e for w, e in effects.items() if w.contains(second)), {})
            samples = []
            for journey in JOURNEYS:
                sample = Sample(journey, second)
                what = effect.get(journey, Effect())
                for n in range(PER_SECOND):
                    latency = rng.lognormvariate(0, 0.25) * base[journey] + what.extra_ms
                    ids = (trace_id(rng),) if traced and n % 5 == 0 else ()
                    if ids and BASELINE.contains(second):
                        traces[journey].extend(ids)
                    if what.error is not None:
                        sample.record(
                            min(latency, 30.0), failed=True, error=what.error, trace_ids=ids
                        )
                    else:
                        sample.record(latency, failed=False, trace_ids=ids)
                samples.append(sample)
            writer.write(samples)
    return traces


def spans(traces: dict[str, list[str]]) -> dict[str, list[Span]]:
    """The spans those traces would have: browse reaches web and stock, buy also pay."""
    found: dict[str, list[Span]] = {}
    for journey, ids in traces.items():
        callees = ["stock"] + (["pay"] if journey == "buy" else [])
        for t in ids:
            trace = [Span(t, "w1", "", "web", SERVER)]
            for i, callee in enumerate(callees):
                trace += [
                    Span(t, f"c{i}", "w1", "web", CLIENT),
                    Span(t, f"s{i}", f"c{i}", callee, SERVER),
                ]
            found[t] = trace
    return found


def write_spans(run_dir: Path, found: dict[str, list[Span]]) -> None:
    """Those spans as the services export them: OTLP JSON lines, one file per service."""
    by_service: dict[str, list[Span]] = {}
    for trace in found.values():
        for span in trace:
            by_service.setdefault(span.service, []).append(span)
    (run_dir / "traces").mkdir(parents=True, exist_ok=True)
    for service, service_spans in by_service.items():
        request = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                    },
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": s.trace_id,
                                    "spanId": s.span_id,
                                    "parentSpanId": s.parent_id,
                                    "kind": s.kind,
                                }
                                for s in service_spans
                            ]
                        }
                    ],
                }
            ]
        }
        (run_dir / "traces" / f"{service}.jsonl").write_text(json.dumps(request) + "\n")


def hostile_json() -> dict[str, Any]:
    """A hostile-input report (HostileReport.to_json) with 5xx answers."""
    example = {
        "method": "GET",
        "path": "/api/items",
        "url": "http://127.0.0.1:9/api/items?offset=18446744073709551616",
        "request_body": None,
        "status": 500,
        "body": HOSTILE_500_BODY,
        "error": None,
    }
    return {
        "base_url": "http://127.0.0.1:9",
        "seconds": 3.0,
        "rate": 10,
        "sent": 28,
        "passed": False,
        "classes": {"2xx": 5, "4xx": 20, "5xx": 3},
        "statuses": {"200": 5, "422": 20, "500": 3},
        "server_errors": 3,
        "no_answers": 0,
        "operations": {
            "GET /api/items": {"sent": 14, "server_errors": 3, "no_answers": 0},
            "POST /api/buy": {"sent": 14, "server_errors": 0, "no_answers": 0},
        },
        "server_error_examples": [example],
        "no_answer_examples": [],
        "skipped": {},
        "error": None,
    }


def system(root: Path) -> SystemSpec:
    """The toy system's file in `root` (with the locustfile it names, empty: never run)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "system.yaml").write_text(SYSTEM)
    (root / "locustfile.py").write_text("")
    return parse_system(SYSTEM, source=str(root / "system.yaml"), root=root)


def matrix_run(run_dir: Path, *, traced: bool = True) -> MatrixResult:
    """A judged matrix of the toy system in `run_dir`, as `gameday matrix` leaves it (without
    report.html). With `traced=False` the samples carry no trace ids: no call graph."""
    spec = system(run_dir)
    cells = plan_cells(spec)
    windows: dict[str, list[CellWindows]] = {}
    effects: dict[Window, dict[str, Effect]] = {}
    second = int(BASELINE.end) + 1
    for cell_id in (*ORDER, *AGAIN):
        fault = Window("fault", second, second + 3)
        recovery = Window("recovery", second + 3, second + 7)
        windows.setdefault(cell_id, []).append(CellWindows(BASELINE, fault, recovery))
        effects[fault] = {j: e for (c, j), e in EFFECTS.items() if c == cell_id}
        second += 8
    traces = write_samples(run_dir, effects, second + 2, traced=traced)
    graph = build_call_graph(traces, spans(traces))
    claims, findings = {}, []
    for cell in cells:
        claims[cell.id], found = expect(cell, JOURNEYS, graph, spec)
        findings += found
    records: dict[str, list[tuple[CellWindows, CellRecord]]] = {}
    journal_cells = []
    for cell_id, runs in windows.items():
        for n, w in enumerate(runs, start=1):
            details: dict[str, Any] = {}
            problems: tuple[str, ...] = ()
            if cell_id == "web:hostile_input":
                details["hostile_input"] = hostile_json()
                problems = ("hostile input: 3 of 28 answers were 5xx (GET /api/items 3)",)
            if cell_id == "stock/0:kill":
                details["invariants"] = {
                    "command": "python -m toy.audit",
                    "exit_code": 0,
                    "passed": True,
                    "output": '{"ok": true}',
                }
            records.setdefault(cell_id, []).append((w, CellRecord(problems, False, details)))
            journal_cells.append(
                {
                    "id": cell_id,
                    "attempt": n,
                    "fault_index": len(journal_cells),
                    "windows": w.to_json(),
                    "baseline_parts": [[w.baseline.start, w.baseline.end]],
                    "recovered_after_s": 1.0,
                    "problems": list(problems),
                    "details": details,
                }
            )
    samples = read_run(run_dir / "load")
    assert spec.slo is not None
    verdict = judge_matrix(
        cells,
        claims,
        records,
        samples,
        spec.slo,
        spec.matrix,
        findings,
        entry_points=spec.public,
    )
    journal = Journal.create(
        run_dir,
        experiment=f"matrix-{spec.name}",
        experiment_file=str(spec.source),
        system_file=str(spec.source),
        owns_system=True,
    )
    journal.set(
        kind="matrix",
        plan=[_cell_json(c) for c in cells],
        cells=journal_cells,
        call_graph=graph.to_json(),
        findings=[f.to_json() for f in findings],
        matrix_verdict=verdict.to_json(),
    )
    journal.set_window("baseline", BASELINE.start, BASELINE.end)
    journal.finish(
        "completed",
        deviated=bool(verdict.failed),
        verdict={"outcome": verdict.outcome.label, "exit_code": verdict.outcome.exit_code},
        invariants={
            "command": "python -m toy.audit",
            "exit_code": 0,
            "passed": True,
            "output": "ok",
        },
    )
    return MatrixResult(
        run_dir=run_dir,
        system=spec,
        cells=cells,
        status="completed",
        verdict=verdict,
        call_graph=graph,
        exit_code=verdict.outcome.exit_code,
        wall_seconds=float(second - T0),
        claims=claims,
        findings=findings,
    )


def experiment_run(run_dir: Path) -> tuple[RunResult, Experiment, Journal]:
    """A judged experiment on the toy system in `run_dir`: pay slowed down for 6 s."""
    spec = system(run_dir)
    experiment = parse_experiment(EXPERIMENT, path=run_dir / "pay-slow.yaml")
    warmup = Window("warmup", T0, T0 + 2)
    phases = Phases(
        Window("baseline", T0 + 2, T0 + 10),
        Window("fault", T0 + 10, T0 + 16),
        Window("recovery", T0 + 16, T0 + 22),
    )
    traces = write_samples(
        run_dir, {phases.fault: {"buy": Effect(error="503")}}, T0 + 22, traced=True
    )
    write_spans(run_dir, spans(traces))
    samples = read_run(run_dir / "load")
    assert spec.slo is not None
    verdict = judge(experiment.hypothesis, spec.slo, samples, phases)
    journal = Journal.create(
        run_dir,
        experiment=experiment.name,
        experiment_file=str(experiment.path),
        system_file=str(experiment.system),
        owns_system=True,
    )
    for w in (warmup, *phases.all):
        journal.set_window(w.name, w.start, w.end)
    journal.finish(
        "completed",
        deviated=verdict.deviated,
        verdict=verdict.to_json(),
        invariants=None,
    )
    result = RunResult(
        run_dir=run_dir, status="completed", verdict=verdict, exit_code=verdict.outcome.exit_code
    )
    return result, experiment, journal
