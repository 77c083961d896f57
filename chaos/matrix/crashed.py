"""A matrix whose process died: judged from what its journal and samples hold.

The journal of a matrix run records the plan, every attempt's windows and what the runner
saw (hostile input, invariants); the load's samples and the services' spans are on disk. So
when the run is found dead (`chaos.experiment.crashed.settle`), the cells that ran to the
end of their recovery are judged as the runner would have judged them, and summary.md,
junit.xml and report.html are written with the run marked crashed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.faults.journal import Journal
from chaos.judgement.matrix import CellRecord, CellWindows, judge_matrix
from chaos.matrix.callgraph import build_call_graph, read_spans
from chaos.matrix.expectations import Claim, Finding, expect
from chaos.matrix.plan import plan_cells
from chaos.matrix.quiet import rebaseline
from chaos.matrix.result import LOAD_DIR, MatrixResult
from chaos.system.model import MATRIX_FAULTS, SystemSpec, load_system
from loadtests.windows import SampleSet, Window, WindowSet, read_run


def attempts_of(journal: Journal) -> dict[str, list[tuple[CellWindows, CellRecord]]]:
    """Every recorded attempt of every cell, in order, as the judge takes them."""
    attempts: dict[str, list[tuple[CellWindows, CellRecord]]] = {}
    for cell in journal.data.get("cells") or []:
        windows = cell["windows"]
        parts = [Window("quiet", a, b) for a, b in cell["baseline_parts"]]
        attempts.setdefault(cell["id"], []).append(
            (
                CellWindows(
                    WindowSet.of("baseline", parts),
                    Window("fault", *windows["fault"]),
                    Window("recovery", *windows["recovery"]),
                ),
                CellRecord(
                    tuple(cell.get("problems") or ()),
                    final=any(p.startswith("invariants violated") for p in cell["problems"]),
                    details=cell.get("details") or {},
                ),
            )
        )
    return attempts


def quiet_windows(journal: Journal) -> list[Window]:
    """Every quiet part the run recorded (older journals: the baseline and the quiet seconds
    each attempt recorded before it)."""
    if journal.data.get("quiet"):
        return [Window("quiet", a, b) for a, b in journal.data["quiet"]]
    found = {}
    baseline = (journal.data.get("windows") or {}).get("baseline")
    if baseline:
        found[tuple(baseline)] = Window("quiet", *baseline)
    for cell in journal.data.get("cells") or []:
        for start, end in cell["baseline_parts"]:
            found[(start, end)] = Window("quiet", start, end)
    return list(found.values())


def claims_of(
    spec: SystemSpec, cells: list[Any], samples: SampleSet, run_dir: Path, quiet: list[Window]
) -> tuple[dict[str, tuple[Claim, ...]], list[Finding]]:
    """The claims of every cell from the call graph of the quiet seconds' traces."""
    traces = {j: [t for w in quiet for t in samples.trace_ids(j, w)] for j in spec.journeys}
    spans = read_spans(run_dir / "traces", {t for ids in traces.values() for t in ids})
    graph = build_call_graph(traces, spans)
    claims: dict[str, tuple[Claim, ...]] = {}
    findings: list[Finding] = []
    for cell in cells:
        claims[cell.id], found = expect(cell, spec.journeys, graph, spec)
        findings += found
    return claims, findings


def crashed_result(journal: Journal) -> MatrixResult:
    """The result of a dead matrix run, judged as far as it got."""
    run_dir = journal.path.parent
    spec = load_system(journal.data["experiment"]["system_file"])
    planned = {c["id"] for c in journal.data.get("plan") or []}
    cells = [c for c in plan_cells(spec, kinds=MATRIX_FAULTS) if c.id in planned]
    result = MatrixResult(run_dir=run_dir, system=spec, cells=cells, status="crashed")
    result.error = journal.data.get("error")
    result.exit_code = 2
    quiet = quiet_windows(journal)
    attempts = rebaseline(attempts_of(journal), quiet, spec.matrix.baseline)
    if not attempts or spec.slo is None or not (run_dir / LOAD_DIR).is_dir():
        return result
    samples = read_run(run_dir / LOAD_DIR)
    claims, findings = claims_of(spec, cells, samples, run_dir, quiet)
    result.claims, result.findings = claims, findings
    result.verdict = judge_matrix(
        cells, claims, attempts, samples, spec.slo, spec.matrix, findings,
        entry_points=spec.public,
    )  # fmt: skip
    return result


def write_crashed_matrix(journal: Journal) -> list[Path]:
    """summary.md, junit.xml and report.html of a dead matrix run."""
    from chaos.report.html.write import write_matrix_report
    from chaos.report.matrix import write_matrix_outputs

    result = crashed_result(journal)
    outputs = write_matrix_outputs(result, journal)
    if result.verdict is not None:
        outputs.append(write_matrix_report(result))
    return outputs
