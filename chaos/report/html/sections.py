"""The parts both reports share, built from journal JSON: verdict rows, a judged window's
timeline, hostile input, invariants, the call graph. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chaos.report.html.figures import Shade, timeline_figure
from chaos.report.html.model import CallGraphTable, Hostile, Invariants, VerdictRow
from chaos.report.html.series import Series
from loadtests.windows import Window

CONTEXT_BEFORE = 60.0  # seconds of a long baseline drawn before the fault
CONTEXT_AFTER = 90.0  # seconds of a long recovery drawn after the fault
OUTPUT_CHARS = 3000  # of an invariants command's output


def anchor_for(name: str, taken: set[str]) -> str:
    """An HTML id for `name` (`orders->payments:down` -> `cell-orders-payments-down`), unique
    among `taken` (which it joins)."""
    base = "cell-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x")
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _significance(comparison: Mapping[str, Any], what: str) -> str:
    q, p = comparison.get(f"{what}_q_value"), comparison.get(f"{what}_p_value")
    if q is not None:
        return f"q {q:.2g}"
    if p is not None:
        return f"p {p:.2g}"
    return "-"  # too few requests to test


def verdict_row(journey: Mapping[str, Any], claim: str, source: str) -> VerdictRow:
    """A row of the verdict table from a journey's verdict JSON (JourneyVerdict.to_json)."""
    c = journey.get("comparison") or {}
    kinds = sorted((journey.get("fault_errors") or {}).items(), key=lambda kv: -kv[1])
    recovered = journey.get("recovered_after_s")
    return VerdictRow(
        journey=str(journey.get("journey", "?")),
        claim=claim,
        source=source,
        passed=bool(journey.get("passed")),
        p50=f"{_ms(c.get('baseline_p50_ms'))} -> {_ms(c.get('fault_p50_ms'))} ms",
        p95=f"{_ms(c.get('baseline_p95_ms'))} -> {_ms(c.get('fault_p95_ms'))} ms",
        errors=f"{_pct(c.get('baseline_error_rate'))} -> {_pct(c.get('fault_error_rate'))}",
        error_kinds=", ".join(f"{kind} x{n}" for kind, n in kinds),
        latency_q=_significance(c, "latency"),
        errors_q=_significance(c, "error"),
        recovery="never" if recovered is None else f"{recovered:.0f} s",
        problems=tuple(str(p) for p in journey.get("problems") or ()),
    )


def hostile(report: Mapping[str, Any] | None) -> Hostile | None:
    """The hostile-input section from its JSON (HostileReport.to_json); None without one."""
    if not report:
        return None
    classes = ", ".join(f"{k} {v}" for k, v in (report.get("classes") or {}).items())
    summary = (
        f"{report.get('sent', 0)} hostile requests in {report.get('seconds', 0):.1f} s "
        f"(at most {report.get('rate', 0):g}/s) to {report.get('base_url', '?')}: "
        f"{classes or 'no answers'}; {report.get('server_errors', 0)} answered 5xx, "
        f"{report.get('no_answers', 0)} got no answer"
    )
    operations = tuple(
        (
            str(name),
            int(counts.get("sent", 0)),
            int(counts.get("server_errors", 0)),
            int(counts.get("no_answers", 0)),
        )
        for name, counts in (report.get("operations") or {}).items()
    )
    examples = tuple(
        _exchange(e)
        for e in [
            *(report.get("server_error_examples") or ()),
            *(report.get("no_answer_examples") or ()),
        ]
    )
    return Hostile(
        passed=bool(report.get("passed")),
        summary=summary,
        operations=operations,
        examples=examples,
        error=report.get("error"),
    )


def _exchange(e: Mapping[str, Any]) -> str:
    sent = f" body {e['request_body']!r}" if e.get("request_body") else ""
    answer = (
        f"{e['status']} {e.get('body', '')!r}" if e.get("status") is not None else e.get("error")
    )
    return f"{e.get('method', '?')} {e.get('url', '?')}{sent} -> {answer}"


def invariants(result: Mapping[str, Any] | None) -> Invariants | None:
    """The invariants section from its JSON (InvariantResult.to_json); None without one."""
    if not result:
        return None
    output = str(result.get("output") or "").strip()
    if len(output) > OUTPUT_CHARS:
        output = "...\n" + output[-OUTPUT_CHARS:]
    return Invariants(bool(result.get("passed")), str(result.get("command", "")), output)


def call_graph_table(graph: Mapping[str, Any] | None) -> CallGraphTable | None:
    """The journeys x services table from CallGraph.to_json; None when nothing was traced."""
    if not graph or not any(g.get("traces") for g in graph.values()):
        return None
    services = tuple(sorted({s for g in graph.values() for s in g.get("services") or ()}))
    rows = tuple(
        (
            name,
            int(g.get("traces", 0)),
            tuple(s in (g.get("services") or ()) for s in services),
            ", ".join(g.get("edges") or ()) or "-",
        )
        for name, g in graph.items()
    )
    return CallGraphTable(services, rows)


def call_graph_note(traced: bool) -> str:
    """Why a run has no call graph."""
    if not traced:
        return (
            "The load recorded no trace ids in this run, so the journeys' call graph is not "
            "known (the matrix traces a share of the requests: matrix.trace_ratio; an "
            "experiment's load does when GAMEDAY_TRACE_RATIO is set in its load env)."
        )
    return (
        "The load traced requests in the baseline, but none of their spans was found in the "
        "run's traces/ directory (do the services export spans there?)."
    )


def window(name: str, bounds: Sequence[float]) -> Window:
    """A window from its JSON form [start, end]."""
    return Window(name, float(bounds[0]), float(bounds[1]))


def seconds(w: Window) -> str:
    """`3 s`."""
    return f"{w.end - w.start:.0f} s"


def chart_span(shades: Sequence[Shade], fault: Window) -> tuple[float, float]:
    """What a timeline shows: the phases, cut at CONTEXT_BEFORE / CONTEXT_AFTER around the
    fault when they are long."""
    start = max(min(s.start for s in shades), fault.start - CONTEXT_BEFORE)
    end = min(max(s.end for s in shades), fault.end + CONTEXT_AFTER)
    return start, end


def timeline(
    series: Iterable[Series],
    shades: Sequence[Shade],
    fault: Window,
    palette: dict[str, str],
) -> dict[str, Any]:
    """The timeline of one judged window, over its `chart_span`."""
    start, end = chart_span(shades, fault)
    clipped = [
        Shade(shade.name, max(shade.start, start), min(shade.end, end), shade.label)
        for shade in shades
        if shade.end > start and shade.start < end
    ]
    first, last = int(start), int(end) + 1
    return timeline_figure([s.between(first, last) for s in series], clipped, fault.start, palette)
