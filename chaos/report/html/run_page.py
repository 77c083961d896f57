"""The page of one experiment run (`gameday run`), from its journal and samples. Pure.

    page = run_page(journal_data, samples, call_graph=..., sources=...)

The journal holds the phases (`windows`: warmup, baseline, fault, recovery), the faults and
their states, the verdict (chaos.judgement.verdict `ExperimentVerdict.to_json`), the
invariants and, with a runtime Prometheus, the alerts. The page is one open section: the
timeline with every phase shaded, the verdict table, the slowest traced requests of the
fault window; then the call graph, the faults, the invariants.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chaos.report.html.figures import Shade, colours
from chaos.report.html.model import Attempt, Detail, Page
from chaos.report.html.sections import (
    anchor_for,
    call_graph_note,
    call_graph_table,
    invariants,
    seconds,
    timeline,
    verdict_row,
    window,
)
from chaos.report.html.series import journey_series, slowest_requests
from loadtests.windows import SampleSet, Window

PHASES = (
    ("warmup", "warm-up"),
    ("baseline", "baseline"),
    ("fault", "fault"),
    ("recovery", "recovery"),
)


def _judged(bounds: list[float]) -> Window:
    """The whole seconds of a phase, as the verdict judged it."""
    first, last = math.ceil(bounds[0]), math.floor(bounds[1])
    return Window("fault", float(first), float(max(first, last)))


def _fault_lines(faults: list[Mapping[str, Any]]) -> tuple[str, ...]:
    lines = []
    for f in faults:
        times = []
        for key, what in (("applied_at", "applied"), ("removed_at", "removed")):
            if f.get(key):
                times.append(f"{what} {datetime.fromtimestamp(f[key], UTC):%H:%M:%S}")
        line = f"{f.get('name')}: {f.get('kind')} on {f.get('target')}, {f.get('state')}"
        line += f" ({', '.join(times)})" if times else ""
        line += f": {f['error']}" if f.get("error") else ""
        lines.append(line)
    return tuple(lines)


def _alert_lines(alerts: Mapping[str, list[Mapping[str, Any]]]) -> tuple[str, ...]:
    lines = []
    for phase, fired in alerts.items():
        names = [
            f"{a.get('alertname')} {dict(a.get('labels') or {})} after "
            f"{a.get('first_firing_s', 0):g}s"
            for a in fired
        ]
        lines.append(f"{phase}: {'; '.join(names) or 'none'}")
    return tuple(lines)


def run_page(
    journal: Mapping[str, Any],
    samples: SampleSet,
    *,
    call_graph: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
    description: str = "",
) -> Page:
    """The report of one experiment run; `sources` says where each journey's claim comes from."""
    experiment = journal.get("experiment") or {}
    name = str(experiment.get("name", "experiment"))
    verdict = journal.get("verdict") or {}
    journeys_json = list(verdict.get("journeys") or ())
    journeys = [j["journey"] for j in journeys_json] or list(samples.journeys)
    palette = colours(journeys)
    series = [s for s in (journey_series(samples, j) for j in journeys) if s is not None]
    traced = any(samples.trace_ids(j) for j in journeys)
    windows = journal.get("windows") or {}
    shades = [
        Shade(label, float(windows[key][0]), float(windows[key][1]))
        for key, label in PHASES
        if key in windows
    ]
    figures: dict[str, dict[str, Any]] = {}
    attempts: tuple[Attempt, ...] = ()
    anchor = anchor_for(name, set())
    default = f"hypothesis of {experiment.get('file', 'the experiment')}"
    if "fault" in windows and series:
        fault = _judged(windows["fault"])
        figures[f"{anchor}-1"] = timeline(
            series, shades, window("fault", windows["fault"]), palette
        )
        described = ", ".join(
            f"{label} {seconds(window(key, windows[key]))}"
            for key, label in PHASES
            if key in windows
        )
        attempts = (
            Attempt(
                title="",
                passed=not verdict.get("deviated") and verdict.get("exit_code") == 0,
                windows=described,
                figure=f"{anchor}-1",
                rows=tuple(
                    verdict_row(
                        j, str(j.get("role", "?")), (sources or {}).get(j["journey"], default)
                    )
                    for j in journeys_json
                ),
                slowest=slowest_requests(samples, journeys, fault),
                traced=traced,
                problems=tuple(verdict.get("notes") or ()),
            ),
        )
    exit_code = verdict.get("exit_code")
    state = "pass" if exit_code == 0 else "fail"
    outcome = str(verdict.get("outcome") or journal.get("status", "?"))
    failed = sum(bool(j.get("problems")) for j in journeys_json)
    summary = f"{outcome}: " + (
        f"{failed} of {len(journeys_json)} journeys did not behave as claimed"
        if failed
        else "every journey behaved as claimed"
    )
    extra: list[tuple[str, tuple[str, ...]]] = []
    if journal.get("faults"):
        extra.append(("Faults", _fault_lines(journal["faults"])))
    if journal.get("alerts"):
        extra.append(("Alerts (runtime Prometheus)", _alert_lines(journal["alerts"])))
    autoscaling = journal.get("autoscaling")
    if autoscaling:
        extra.append(
            (
                "Autoscaling",
                tuple(
                    f"{'ok' if c.get('held') else 'FAILED'} {c.get('claim')}: {c.get('observed')}"
                    for c in autoscaling.get("checks") or ()
                ),
            )
        )
    started, ended = journal.get("started"), journal.get("ended")
    facts = [
        ("experiment file", str(experiment.get("file", "-"))),
        ("system file", str(experiment.get("system_file", "-"))),
        ("run directory", str(journal.get("run_dir", "-"))),
        (
            "started",
            "-" if not started else f"{datetime.fromtimestamp(started, UTC):%Y-%m-%d %H:%M:%S} UTC",
        ),
        ("wall time", f"{ended - started:.0f} s" if started and ended else "-"),
        ("exit code", "-" if exit_code is None else str(exit_code)),
    ]
    if description:
        facts.insert(0, ("what", description))
    graph = call_graph_table(call_graph)
    return Page(
        title=name,
        kind="experiment",
        state=state,
        headline=summary if journeys_json else outcome,
        facts=tuple(facts),
        error=journal.get("error"),
        call_graph=graph,
        call_graph_note="" if graph else call_graph_note(traced),
        invariants=invariants(journal.get("invariants")),
        extra=tuple(extra),
        details=(Detail(anchor, name, state, summary, attempts=attempts, open=True),),
        figures=figures,
    )
