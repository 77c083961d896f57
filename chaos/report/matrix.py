"""The outputs of a matrix run, next to its journal: summary.md, junit.xml (and report.html).

    write_matrix_outputs(result, journal) -> [journal.json, summary.md, junit.xml, report.html]

JUnit has one test case per cell and journey (classname `gameday.matrix.<cell>`), its failure
message carrying the numbers; one per cell for what the cell itself found (hostile answers,
invariants after a kill, no recovery); one for the steady state before the faults and one
for the invariants at the end. Call-graph findings are test cases that pass with the finding
in their output: a claim that rests on a fallback is not a failure, but it is worth a look.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from chaos.faults.journal import Journal
from chaos.judgement.matrix import CellVerdict
from chaos.judgement.statistics import MIN_REQUESTS
from chaos.matrix.result import MatrixResult
from chaos.report.files import JUNIT, SUMMARY

MATRIX_HEADER = ["cell", "verdict", "affected", "unexpected", "recovered", "why"]


def cell_row(cell: CellVerdict) -> list[str]:
    """One row of the verdict table for a cell."""
    times = [j.recovered_after_s for j in cell.journeys]
    slowest = None if None in times else max((t for t in times if t is not None), default=0.0)
    why = cell.problems
    return [
        cell.cell.id + (f" (= {cell.cell.same_as})" if cell.cell.same_as else ""),
        "PASS" if cell.passed else "FAIL",
        ", ".join(cell.affected) or "-",
        ", ".join(cell.unexpected) or "-",
        "no" if slowest is None else f"{slowest:.0f}s",
        (why[0] + (f" (+{len(why) - 1} more)" if len(why) > 1 else "")) if why else "",
    ]


def summary_markdown(result: MatrixResult) -> str:
    """The human summary of a matrix run."""
    spec = result.system
    verdict = result.verdict
    ran = [c for c in result.cells if c.runs]
    lines = [
        f"# matrix of {spec.name}: {result.status}",
        "",
        f"- system file: `{spec.source}`",
        f"- run directory: `{result.run_dir}`",
        f"- cells: {len(result.cells)} planned, {len(ran)} injected, "
        f"wall time {result.wall_seconds:.0f}s",
    ]
    if verdict is not None:
        lines += [
            f"- outcome: **{verdict.outcome.label}** (exit code {result.exit_code}); "
            f"{len(verdict.failed)} of {len(verdict.cells)} cells failed; "
            f"{verdict.comparisons} comparisons, false discovery rate "
            f"{spec.matrix.false_discovery_rate:.0%}",
            "",
            "| " + " | ".join(MATRIX_HEADER) + " |",
            "|" + "---|" * len(MATRIX_HEADER),
        ]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in cell_row(c)) + " |"
            for c in verdict.cells
        ]
        failed = verdict.failed
        if failed:
            lines += ["", "## Why cells failed", ""]
            for cell in failed:
                lines.append(f"### {cell.cell.id}")
                lines += [f"- {p}" for p in cell.runner_problems]
                for j in cell.journeys:
                    if not cell.stands(j.journey):
                        continue  # failed in one attempt only: not a finding
                    claim = cell.claim(j.journey)
                    lines += [
                        f"- **{j.journey}** ({claim.role}, {claim.source}): {p}" for p in j.problems
                    ]
                lines.append("")
        if verdict.findings:
            lines += ["", "## Call-graph findings", ""]
            lines += [f"- `{f.cell}`: {f.text}" for f in verdict.findings]
        if verdict.uncompared:
            lines += ["", "## Not compared with the baseline", ""]
            lines += [
                f"- **{journey}**: fewer than {MIN_REQUESTS} requests in the fault window of "
                f"{len(cells)} cell(s) ({', '.join(f'`{c}`' for c in cells)}): only its SLO was "
                "checked there; raise its rate or `matrix.window`"
                for journey, cells in verdict.uncompared.items()
            ]
        if verdict.skipped:
            lines += ["", "## Not run", ""]
            lines += [f"- `{c.id}`: {c.skip or 'the run ended before it'}" for c in verdict.skipped]
    if result.call_graph is not None:
        lines += ["", "## Call graph (from the baseline's traces)", ""]
        for graph in result.call_graph.journeys.values():
            edges = ", ".join(f"{a}->{b}" for a, b in sorted(graph.edges)) or "none"
            lines.append(f"- **{graph.journey}** ({graph.traces} traces): {edges}")
    if result.invariants is not None:
        state = "hold" if result.invariants.passed else "VIOLATED"
        lines += ["", f"## Invariants at the end: {state}", "", f"`{result.invariants.command}`"]
        if not result.invariants.passed:
            lines += ["", "```", result.invariants.output[-3000:].strip(), "```"]
    if result.error:
        lines += ["", f"**{result.status}**: {result.error}"]
    return "\n".join(lines) + "\n"


def junit_xml(result: MatrixResult) -> str:
    """JUnit XML: one test case per cell and journey, plus the cells' own checks."""
    name = f"gameday.matrix.{result.system.name}"
    suite = ET.Element("testsuite", name=name)
    cases: list[tuple[str, str, str | None, str | None]] = []  # class, name, failure, output
    verdict = result.verdict
    if verdict is None:
        cases.append((name, "run", f"{result.status}: {result.error}", None))
    else:
        steady = verdict.outcome.exit_code != 3
        cases.append(
            (
                name,
                "steady state before the faults",
                None if steady else "outside the SLO in the baseline",
                None,
            )
        )
        for cell in verdict.cells:
            classname = f"{name}.{cell.cell.id}"
            for j in cell.journeys:
                claim = cell.claim(j.journey)
                failure = "; ".join(j.problems) if cell.stands(j.journey) else None
                detail = f"{claim.role} ({claim.source}); {j.comparison.latency_change()}"
                cases.append((classname, f"{j.journey} ({claim.role})", failure, detail))
            cases.append((classname, "cell", "; ".join(cell.runner_problems) or None, None))
        for finding in verdict.findings:
            cases.append((f"{name}.callgraph", f"{finding.journey} vs {finding.cell}", None,
                          finding.text))  # fmt: skip
    if result.invariants is not None:
        cases.append(
            (
                name,
                "invariants",
                None if result.invariants.passed else result.invariants.output[-2000:],
                None,
            )
        )
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for _, _, failure, _ in cases if failure)))
    suite.set("time", f"{result.wall_seconds:.1f}")
    for classname, case_name, failure, output in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=case_name)
        if failure:
            ET.SubElement(case, "failure", message=failure[:500]).text = failure
        if output:
            ET.SubElement(case, "system-out").text = output
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_matrix_outputs(result: MatrixResult, journal: Journal) -> list[Path]:
    """Write the verdict into the journal, then summary.md and junit.xml; return the paths."""
    if result.verdict is not None:
        journal.set(matrix_verdict=result.verdict.to_json())
    summary = result.run_dir / SUMMARY
    summary.write_text(summary_markdown(result))
    junit = result.run_dir / JUNIT
    junit.write_text(junit_xml(result))
    return [journal.path, summary, junit]
