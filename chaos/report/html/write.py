"""Writing report.html into a run directory: the I/O around the pure page builders.

    write_matrix_report(result)                        # gameday matrix / gameday ci
    write_run_report(result, experiment, journal)      # gameday run
    write_report(run_dir)                              # again, from what a run left on disk

Each reads the run's samples (`load/samples.jsonl`) and writes `report.html` beside the
journal; the file opens without a network.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.errors import GamedayError
from chaos.faults.journal import FORMAT as JOURNAL_FORMAT
from chaos.faults.journal import JOURNAL_FILE
from chaos.matrix.callgraph import build_call_graph, read_spans
from chaos.report.html.matrix_page import matrix_page
from chaos.report.html.render import render
from chaos.report.html.run_page import run_page
from loadtests.samples import SAMPLES_FILE
from loadtests.windows import SampleSet, Window, read_run

if TYPE_CHECKING:
    from chaos.experiment.model import Experiment
    from chaos.experiment.runner import RunResult
    from chaos.faults.journal import Journal
    from chaos.matrix.runner import MatrixResult

logger = logging.getLogger(__name__)

REPORT = "report.html"
LOAD_DIR = "load"
TRACES_DIR = "traces"


def _samples(run_dir: Path) -> SampleSet:
    """The run's samples; an empty set (the report says the run has none) when it has none."""
    if not (run_dir / LOAD_DIR / SAMPLES_FILE).exists():
        return SampleSet()
    return read_run(run_dir / LOAD_DIR)


def _call_graph(run_dir: Path, samples: SampleSet, baseline: Any) -> dict[str, Any]:
    """The call graph of an experiment's baseline, read from its traces as the matrix does."""
    if not baseline:
        return {}
    window = Window("baseline", float(baseline[0]), float(baseline[1]))
    traces = {j: samples.trace_ids(j, window) for j in samples.journeys}
    wanted = {t for ids in traces.values() for t in ids}
    if not wanted:
        return {}
    return build_call_graph(traces, read_spans(run_dir / TRACES_DIR, wanted)).to_json()


def _write(run_dir: Path, html: str) -> Path:
    path = run_dir / REPORT
    path.write_text(html, encoding="utf-8")
    return path


def write_matrix_report(result: MatrixResult) -> Path:
    """report.html of a matrix run: the heatmap and every cell's detail."""
    journal = _read_journal(result.run_dir)
    if result.verdict is not None:  # the verdict in memory, whether or not it was saved yet
        journal["matrix_verdict"] = result.verdict.to_json()
    return _write(result.run_dir, render(matrix_page(journal, _samples(result.run_dir))))


def write_run_report(result: RunResult, experiment: Experiment, journal: Journal) -> Path:
    """report.html of an experiment: its timeline, verdict table and call graph."""
    samples = _samples(result.run_dir)
    data = journal.data
    hypothesis = experiment.hypothesis
    sources = {j: f"hypothesis: steady ({experiment.path.name})" for j in hypothesis.steady}
    for d in hypothesis.degraded:
        limits = []
        if d.max_latency_ms is not None:
            limits.append(f"p95 <= {d.max_latency_ms:.0f}ms")
        if d.errors:
            limits.append(f"errors {', '.join(d.errors)}")
        elif d.answers_only:
            limits.append("HTTP errors only")
        sources[d.journey] = f"hypothesis: degraded, {'; '.join(limits)} ({experiment.path.name})"
    page = run_page(
        data,
        samples,
        call_graph=_call_graph(result.run_dir, samples, data.get("windows", {}).get("baseline")),
        sources=sources,
        description=experiment.description,
    )
    return _write(result.run_dir, render(page))


def write_report(run_dir: Path | str) -> Path:
    """report.html of any run directory (a matrix or an experiment), from its journal."""
    run_dir = Path(run_dir)
    journal = _read_journal(run_dir)
    samples = _samples(run_dir)
    if journal.get("kind") == "matrix":
        page = matrix_page(journal, samples)
    else:
        baseline = (journal.get("windows") or {}).get("baseline")
        page = run_page(journal, samples, call_graph=_call_graph(run_dir, samples, baseline))
    return _write(run_dir, render(page))


def _read_journal(run_dir: Path) -> dict[str, Any]:
    path = run_dir / JOURNAL_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GamedayError(
            f"cannot read {path}: {exc}; pass the directory a gameday run wrote"
        ) from exc
    if not isinstance(data, Mapping) or data.get("format") != JOURNAL_FORMAT:
        raise GamedayError(
            f"{path} is not the journal of a gameday run or matrix (no "
            f'"format": "{JOURNAL_FORMAT}"); pass the directory `gameday run` or '
            "`gameday matrix` wrote"
        )
    return dict(data)
