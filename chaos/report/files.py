"""The outputs of a run, next to its journal: summary.md and report.html for people,
junit.xml for CI.

    write_outputs(result, experiment, journal) -> [journal.json, summary.md, junit.xml,
                                                   report.html]

One JUnit test case per journey of the hypothesis, plus one for the steady state before the
fault and one for the invariants, so a CI system shows exactly which claim failed.
"""

from __future__ import annotations

import html
from pathlib import Path
from xml.etree import ElementTree as ET

from chaos.experiment.alerts import summary_lines
from chaos.experiment.model import Experiment
from chaos.experiment.runner import RunResult
from chaos.faults.journal import Journal
from chaos.judgement.verdict import JourneyVerdict

SUMMARY = "summary.md"
JUNIT = "junit.xml"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def journey_row(j: JourneyVerdict) -> list[str]:
    """One table row: journey, role, verdict, p95 and errors before/during, recovery."""
    c = j.comparison
    return [
        j.journey,
        j.role,
        "PASS" if j.passed else "FAIL",
        f"{_ms(c.baseline_p95_ms)} -> {_ms(c.fault_p95_ms)}",
        f"{_pct(c.baseline_error_rate)} -> {_pct(c.fault_error_rate)}",
        "-" if j.recovered_after_s is None else f"{j.recovered_after_s:.0f}s",
    ]


HEADER = ["journey", "role", "verdict", "p95 baseline -> fault", "errors", "recovered after"]


def summary_markdown(result: RunResult, experiment: Experiment, journal: Journal) -> str:
    """The human summary of a run."""
    lines = [f"# {experiment.name}: {result.status}", ""]
    if experiment.description:
        lines += [experiment.description, ""]
    faults = ", ".join(f"{f.kind} on {f.target}" for f in experiment.faults)
    lines += [f"- faults: {faults}", f"- run directory: `{result.run_dir}`"]
    verdict = result.verdict
    if verdict is not None:
        data = journal.data.get("verdict") or {}
        lines += [
            f"- outcome: **{data.get('outcome', verdict.outcome.label)}** "
            f"(exit code {result.exit_code})",
            "",
        ]
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(journey_row(j)) + " |" for j in verdict.journeys]
        problems = [(j.journey, p) for j in verdict.journeys for p in j.problems]
        if problems:
            lines += ["", "## Why", ""] + [f"- **{name}**: {p}" for name, p in problems]
    if result.invariants is not None:
        state = "hold" if result.invariants.passed else "VIOLATED"
        lines += ["", f"## Invariants: {state}", "", f"`{result.invariants.command}`"]
        if not result.invariants.passed:
            lines += [""] + [f"- {v}" for v in result.invariants.violations]
            lines += ["", "```", result.invariants.output[-3000:].strip(), "```"]
    if result.error:
        lines += ["", f"**{result.status}**: {result.error}"]
    if journal.data.get("alerts"):
        lines += summary_lines(journal.data["alerts"])
    faults = journal.data.get("faults", [])
    if faults:
        lines += ["", "## Faults", ""]
        lines += [
            f"- {f['name']} ({f['kind']} on {f['target']}): {f['state']}"
            + (f" — {f['error']}" if f.get("error") else "")
            for f in faults
        ]
    return "\n".join(lines) + "\n"


def junit_xml(result: RunResult, experiment: Experiment) -> str:
    """JUnit XML: one test case per claim of the hypothesis."""
    suite = ET.Element("testsuite", name=f"gameday.{experiment.name}")
    cases: list[tuple[str, str | None]] = []
    verdict = result.verdict
    if verdict is None:
        cases.append(("run", f"{result.status}: {result.error}"))
    else:
        cases.append(
            (
                "steady state before the fault",
                None if verdict.steady_before else "outside the SLO in the baseline",
            )
        )
        for j in verdict.journeys:
            cases.append((f"{j.journey} ({j.role})", "; ".join(j.problems) or None))
    if result.invariants is not None:
        cases.append(
            ("invariants", None if result.invariants.passed else result.invariants.output[-2000:])
        )
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for _, failure in cases if failure)))
    for name, failure in cases:
        case = ET.SubElement(suite, "testcase", classname=f"gameday.{experiment.name}", name=name)
        if failure:
            ET.SubElement(case, "failure", message=failure[:500]).text = html.unescape(failure)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_outputs(result: RunResult, experiment: Experiment, journal: Journal) -> list[Path]:
    """Write summary.md, junit.xml and report.html into the run directory; return the paths."""
    from chaos.report.html.write import write_run_report  # plotly and jinja2: only when used

    summary = result.run_dir / SUMMARY
    summary.write_text(summary_markdown(result, experiment, journal))
    junit = result.run_dir / JUNIT
    junit.write_text(junit_xml(result, experiment))
    return [journal.path, summary, junit, write_run_report(result, experiment, journal)]
