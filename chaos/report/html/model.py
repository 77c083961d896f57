"""The page model of a report: what the HTML shows, already formatted, with no HTML in it.

Builders (`chaos.report.html.matrix_page`, `chaos.report.html.run_page`) turn a run's journal
and samples into a `Page`; `chaos.report.html.render` turns a `Page` into HTML. Text is
plain: the template escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.report.html.series import SlowRequest

State = str  # "pass", "fail", "skipped", "not run"


@dataclass(frozen=True)
class VerdictRow:
    """One journey's verdict in one attempt: its claim, numbers and problems."""

    journey: str
    claim: str  # "unaffected", "degraded", "steady"
    source: str  # where the claim comes from
    passed: bool
    p50: str  # "30 -> 41 ms"
    p95: str
    errors: str  # "0.0% -> 12.5%"
    error_kinds: str  # "503 x12, ReadTimeout x3"
    latency_q: str  # "q 0.003" (or "p ..." when not adjusted)
    errors_q: str
    recovery: str  # "4 s", "never"
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hostile:
    """What the hostile input of a window met."""

    passed: bool
    summary: str
    operations: tuple[tuple[str, int, int, int], ...]  # operation, sent, 5xx, no answer
    examples: tuple[str, ...]  # one line each: what was sent and what came back
    error: str | None = None


@dataclass(frozen=True)
class Invariants:
    """An invariants command and its result."""

    passed: bool
    command: str
    output: str


@dataclass(frozen=True)
class Attempt:
    """One run of a cell (an experiment has one): windows, chart, verdicts, what else was seen."""

    title: str  # "attempt 1 of 2: failed"
    passed: bool
    windows: str  # "baseline 15 s, fault 3 s, recovery 4 s"
    figure: str | None  # id of its timeline in Page.figures
    rows: tuple[VerdictRow, ...]
    slowest: tuple[SlowRequest, ...] = ()
    traced: bool = False  # the samples carry trace ids at all
    problems: tuple[str, ...] = ()
    hostile: Hostile | None = None
    invariants: Invariants | None = None


@dataclass(frozen=True)
class Detail:
    """A cell of the matrix, or the experiment: its claims and attempts."""

    anchor: str  # the HTML id; the heatmap and the index link to it
    title: str
    state: State
    summary: str  # one line next to the title
    notes: tuple[str, ...] = ()  # why skipped, "same injection as ...", findings
    same_as: str | None = None  # anchor of the cell whose injection this is
    attempts: tuple[Attempt, ...] = ()
    open: bool = False  # shown unfolded when the page opens


@dataclass(frozen=True)
class IndexRow:
    """A line of the matrix's cell table."""

    anchor: str
    cell: str
    state: State
    moved: str
    unexpected: str
    recovery: str
    why: str


@dataclass(frozen=True)
class CallGraphTable:
    """Which services each journey's traces reach (a table), and the synchronous edges."""

    services: tuple[str, ...]
    rows: tuple[tuple[str, int, tuple[bool, ...], str], ...]  # journey, traces, reaches, edges


@dataclass(frozen=True)
class Page:
    """A whole report."""

    title: str
    kind: str  # "matrix" or "experiment"
    state: State  # of the whole run
    headline: str  # the outcome in words
    facts: tuple[tuple[str, str], ...]  # label, value
    error: str | None = None
    heatmap: str | None = None  # id of the heatmap in `figures`
    index: tuple[IndexRow, ...] = ()
    findings: tuple[tuple[str, str], ...] = ()  # anchor, text
    skipped: tuple[tuple[str, str, str], ...] = ()  # anchor, cell, reason
    call_graph: CallGraphTable | None = None
    call_graph_note: str = ""
    invariants: Invariants | None = None
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (heading, lines): alerts, faults...
    details: tuple[Detail, ...] = ()
    figures: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def charts(self) -> int:
        """How many timelines the page shows (the heatmap not counted); a cell that is the
        same injection as another shows that cell's timelines again."""
        return sum(a.figure is not None for d in self.details for a in d.attempts)
