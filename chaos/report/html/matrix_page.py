"""The page of a matrix run, from its journal and samples. Pure.

    page = matrix_page(journal_data, samples)

The journal of a matrix (`kind: matrix`) holds the plan, one record per attempt of each
injected cell (its windows, the baseline's parts), the call graph, the findings and
`matrix_verdict` (chaos.judgement.matrix `MatrixVerdict.to_json`). Every planned cell gets a
heatmap cell and a detail, whether it was judged, skipped or never reached (a run that
ended early); a cell `same as` another is judged on that cell's attempts with its own
claims and shown with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from chaos.report.html.figures import HeatCell, Shade, colours, heatmap_figure
from chaos.report.html.model import Attempt, Detail, IndexRow, Page
from chaos.report.html.sections import (
    anchor_for,
    call_graph_note,
    call_graph_table,
    chart_span,
    hostile,
    invariants,
    seconds,
    timeline,
    verdict_row,
    window,
)
from chaos.report.html.series import Series, journey_series, slowest_requests
from chaos.system.model import MATRIX_FAULTS
from loadtests.windows import SampleSet, Window

DERIVED_WITHOUT_GRAPH = (
    " Without it, every claim the system file does not declare was derived as 'may fail' "
    "(degraded), except for replicas and hostile input."
)


def _state(cell: Mapping[str, Any] | None, plan: Mapping[str, Any]) -> str:
    if cell is not None:
        return "pass" if cell.get("passed") else "fail"
    return "skipped" if plan.get("skip") else "not run"


def _journeys(journal: Mapping[str, Any], samples: SampleSet) -> list[str]:
    """The journeys in the system file's order, as far as the journal tells it."""
    graph = journal.get("call_graph") or {}
    if graph:
        return list(graph)
    for cell in (journal.get("matrix_verdict") or {}).get("cells") or ():
        return [c["journey"] for c in cell.get("claims") or ()]
    return list(samples.journeys)


def _shown(cell: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The attempt that stands for the cell, as the verdict chose it (`CellVerdict.shown`)."""
    attempts = cell.get("attempts") or []
    index = cell.get("shown", 0)
    return attempts[index] if isinstance(index, int) and 0 <= index < len(attempts) else None


def _recovery(attempt: Mapping[str, Any] | None) -> str:
    if attempt is None:
        return "-"
    times = [j.get("recovered_after_s") for j in attempt.get("journeys") or ()]
    if any(t is None for t in times):
        return "never"
    return f"{max(times, default=0.0):.0f} s"


def _why(cell: Mapping[str, Any], attempt: Mapping[str, Any] | None) -> str:
    if attempt is None:
        return ""
    why = cell.get("problems")  # what stands (CellVerdict.problems); older journals lack it
    if why is None:
        journeys = attempt.get("journeys") or ()
        why = [f"{j['journey']}: {j['problems'][0]}" for j in journeys if j.get("problems")]
        why += list(attempt.get("problems") or ())
    return (why[0] + (f" (+{len(why) - 1} more)" if len(why) > 1 else "")) if why else ""


def _summary(cell: Mapping[str, Any], total: int) -> str:
    moved, unexpected = cell.get("affected") or [], cell.get("unexpected") or []
    verdict = "PASS" if cell.get("passed") else "FAIL"
    text = f"{verdict}: {len(moved)} of {total} journeys moved"
    if moved:
        text += f" ({', '.join(moved)})"
    if unexpected:
        text += f"; claimed unaffected but moved: {', '.join(unexpected)}"
    if cell.get("reproduced") is not None:
        text += "; the failure reproduced" if cell["reproduced"] else "; did not reproduce"
    return text


def _hover(cell_id: str, state: str, cell: Mapping[str, Any] | None, reason: str) -> str:
    """The hover label: plotly reads a few HTML tags in it, so the text is escaped."""
    lines = [f"<b>{escape(cell_id)}</b>"]
    if cell is None:
        lines.append(escape(f"{state}: {reason}" if reason else state))
    else:
        lines.append(state.upper())
        lines.append(escape(f"moved: {', '.join(cell.get('affected') or ()) or 'none'}"))
        if cell.get("unexpected"):
            unexpected = ", ".join(cell["unexpected"])
            lines.append(escape(f"claimed unaffected but moved: {unexpected}"))
        if cell.get("same_as"):
            lines.append(escape(f"same injection as {cell['same_as']}"))
    lines.append("click for the detail")
    return "<br>".join(lines)


def _label(state: str, cell: Mapping[str, Any] | None, total: int) -> str:
    if cell is None:
        return "skip" if state == "skipped" else "-"
    text = f"{len(cell.get('affected') or ())}/{total}"
    if state == "fail":
        text += " ✗"
    return ("= " + text) if cell.get("same_as") else text


class _Builder:
    def __init__(self, journal: Mapping[str, Any], samples: SampleSet) -> None:
        self.journal = journal
        self.samples = samples
        self.journeys = _journeys(journal, samples)
        self.palette = colours(self.journeys)
        self.series: list[Series] = [
            s for s in (journey_series(samples, j) for j in self.journeys) if s is not None
        ]
        # a run without trace ids says so, instead of showing empty tables
        self.traced = any(samples.trace_ids(j) for j in self.journeys)
        self.records: dict[str, list[Mapping[str, Any]]] = {}
        for record in journal.get("cells") or ():
            self.records.setdefault(record["id"], []).append(record)
        self.figures: dict[str, dict[str, Any]] = {}

    def attempt(self, anchor: str, cell: Mapping[str, Any], number: int, count: int) -> Attempt:
        """Attempt `number` of `cell` (0-based) of `count`, its timeline added to figures
        (`anchor`: of the cell whose injection it is; a `same as` cell shares its charts)."""
        data = cell["attempts"][number]
        claims = {c["journey"]: c for c in cell.get("claims") or ()}
        w = data["windows"]
        fault, recovery = window("fault", w["fault"]), window("recovery", w["recovery"])
        # the baseline is a set of quiet stretches: the judged ones (older runs: the runner's)
        records = self.records.get(cell.get("same_as") or cell["id"], [])
        parts = data.get("baseline_parts")
        if not parts and number < len(records):
            parts = records[number].get("baseline_parts")
        baseline = [window("baseline", p) for p in parts or [w["baseline"]]]
        shades = [
            Shade("baseline", p.start, p.end, label=i == len(baseline) - 1)
            for i, p in enumerate(baseline)
        ]
        shades += [
            Shade("fault", fault.start, fault.end),
            Shade("recovery", recovery.start, recovery.end),
        ]
        figure = f"{anchor}-{number + 1}"
        if figure not in self.figures:
            self.figures[figure] = timeline(self.series, shades, fault, self.palette)
        rows = tuple(
            verdict_row(
                j,
                claims.get(j["journey"], {}).get("role", j.get("role", "?")),
                claims.get(j["journey"], {}).get("source", ""),
            )
            for j in data.get("journeys") or ()
        )
        passed = bool(data.get("passed"))
        title = "passed" if passed else "failed"
        if count > 1:
            title = f"attempt {number + 1} of {count}: {title}"
        details = data.get("details") or {}
        left = chart_span(shades, fault)[0]
        hidden = sum(max(0.0, min(p.end, left) - p.start) for p in baseline)
        described = (
            f"baseline {_covered(baseline)} (the most recent quiet seconds"
            + (f"; {hidden:.0f} s of them are further left than the chart)" if hidden else ")")
            + f", fault {seconds(fault)}, recovery {seconds(recovery)}"
        )
        return Attempt(
            title=title,
            passed=passed,
            windows=described,
            figure=figure,
            rows=rows,
            slowest=slowest_requests(self.samples, self.journeys, fault),
            traced=self.traced,
            problems=tuple(data.get("problems") or ()),
            hostile=hostile(details.get("hostile_input")),
            invariants=invariants(details.get("invariants")),
        )


def _covered(parts: Sequence[Window]) -> str:
    total = sum(p.end - p.start for p in parts)
    return f"{total:.0f} s" + (f" in {len(parts)} parts" if len(parts) > 1 else "")


def _kinds(plan: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {p["kind"] for p in plan}
    ordered = [k for k in MATRIX_FAULTS if k in present]
    return ordered + sorted(present - set(ordered))


def _time(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def matrix_page(journal: Mapping[str, Any], samples: SampleSet) -> Page:
    """The report of a matrix run."""
    build = _Builder(journal, samples)
    plan: list[Mapping[str, Any]] = list(journal.get("plan") or ())
    verdict: Mapping[str, Any] = journal.get("matrix_verdict") or {}
    judged = {c["id"]: c for c in verdict.get("cells") or ()}
    reasons = {s["id"]: s.get("reason") for s in verdict.get("skipped") or ()}
    findings = list(journal.get("findings") or verdict.get("findings") or ())
    total = len(build.journeys)
    taken: set[str] = set()
    anchors = {p["id"]: anchor_for(p["id"], taken) for p in plan}

    heat: list[HeatCell] = []
    index: list[IndexRow] = []
    details: list[Detail] = []
    skipped: list[tuple[str, str, str]] = []
    for p in plan:
        cell_id, anchor = p["id"], anchors[p["id"]]
        cell = judged.get(cell_id)
        state = _state(cell, p)
        reason = p.get("skip") or reasons.get(cell_id) or "the run ended before it"
        heat.append(
            HeatCell(
                target=p["target"],
                kind=p["kind"],
                state=state,
                moved=len(cell.get("affected") or ()) if cell else 0,
                label=_label(state, cell, total),
                hover=_hover(cell_id, state, cell, reason if cell is None else ""),
                anchor=anchor,
            )
        )
        notes: list[str] = []
        if p.get("declared"):
            notes.append(f"expectation declared at {p['declared']}")
        same_as = p.get("same_as")
        if same_as:
            notes.append(
                f"the same injection as {same_as}: judged on its attempts, with this cell's "
                "own claims"
            )
        notes += [f["text"] for f in findings if f.get("cell") == cell_id]
        if cell is None:
            skipped.append((anchor, cell_id, reason))
            details.append(Detail(anchor, cell_id, state, reason, tuple(notes)))
            index.append(IndexRow(anchor, cell_id, state, "-", "-", "-", reason))
            continue
        count = len(cell.get("attempts") or ())
        source = anchors.get(same_as, anchor) if same_as else anchor
        attempts = tuple(build.attempt(source, cell, n, count) for n in range(count))
        details.append(
            Detail(
                anchor,
                cell_id,
                state,
                _summary(cell, total),
                tuple(notes),
                same_as=anchors.get(same_as) if same_as else None,
                attempts=attempts,
            )
        )
        shown = _shown(cell)
        index.append(
            IndexRow(
                anchor,
                cell_id + (f" (= {same_as})" if same_as else ""),
                state,
                ", ".join(cell.get("affected") or ()) or "-",
                ", ".join(cell.get("unexpected") or ()) or "-",
                _recovery(shown),
                _why(cell, shown),
            )
        )

    targets = list(dict.fromkeys(p["target"] for p in plan))
    figures = dict(build.figures)
    figures["heatmap"] = heatmap_figure(heat, targets, _kinds(plan), total)
    outcome = journal.get("verdict") or {}
    label = outcome.get("outcome") or verdict.get("outcome") or journal.get("status", "?")
    exit_code = outcome.get("exit_code", verdict.get("exit_code"))
    failed = sum(1 for c in judged.values() if not c.get("passed"))
    headline = f"{label}: {failed} of {len(judged)} judged cells failed" if judged else label
    started, ended = journal.get("started"), journal.get("ended")
    experiment = journal.get("experiment") or {}
    facts = (
        ("system file", str(experiment.get("system_file") or experiment.get("file") or "-")),
        ("run directory", str(journal.get("run_dir", "-"))),
        ("started", _time(started)),
        ("wall time", f"{ended - started:.0f} s" if started and ended else "-"),
        ("journeys", ", ".join(build.journeys) or "-"),
        (
            "cells",
            f"{len(plan)} planned, {len(build.records)} injected, {len(judged)} judged, "
            f"{len(plan) - len(judged)} not judged",
        ),
        ("comparisons", f"{verdict.get('comparisons', '-')} (false discovery rate controlled)"),
        ("exit code", "-" if exit_code is None else str(exit_code)),
    )
    graph = call_graph_table(journal.get("call_graph"))
    return Page(
        title=str(experiment.get("name", "matrix")),
        kind="matrix",
        state="pass" if exit_code == 0 else "fail",
        headline=headline,
        facts=facts,
        error=journal.get("error"),
        heatmap="heatmap",
        index=tuple(index),
        findings=tuple(
            (anchors.get(f.get("cell"), ""), f"{f.get('cell')}: {f.get('text')}") for f in findings
        ),
        skipped=tuple(skipped),
        call_graph=graph,
        call_graph_note="" if graph else call_graph_note(build.traced) + DERIVED_WITHOUT_GRAPH,
        invariants=invariants(journal.get("invariants")),
        details=tuple(details),
        figures=figures,
    )
