"""The outputs of `gameday scale`: journal.json, summary.md and report.html (plotly, offline).

The report holds the measured capacity per replica count with the fitted USL curve and
linear scaling for reference, and every step of every search (offered vs achieved rate,
p95, pass or fail). plotly.js is inlined, so the file opens without a network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chaos.scale.gain import Gain, judge_gain
from chaos.scale.usl import UslFit, efficiency, fit_usl
from chaos.system.model import SystemSpec

if TYPE_CHECKING:
    from chaos.scale.run import CountResult, ScaleOptions, ScaleResult


def _capacities(counts: list[CountResult]) -> dict[int, float]:
    return {c.replicas: c.capacity for c in counts if c.capacity is not None}


def _gains(counts: list[CountResult], caps: Mapping[int, float]) -> list[Gain]:
    one = next((c for c in counts if c.replicas == min(caps, default=1)), None)
    if one is None or one.probe_stats is None:
        return []
    gains = []
    for count in counts:
        if count is one or count.probe_stats is None:
            continue
        ratio = caps[count.replicas] / caps[one.replicas] if count.replicas in caps else None
        gains.append(judge_gain(count.replicas, one.probe_stats, count.probe_stats, ratio))
    return gains


def _others_cpu(count: CountResult, service: str) -> dict[str, Any]:
    step = count.probe
    if step is None:
        return {}
    services = step.detail["attribution"]["services"]
    achieved = step.achieved or float("nan")
    return {
        s["service"]: {
            "replicas": s["replicas"],
            "cpu": s["cpu"],
            "cpu_ms_per_request": (s["cpu"] or 0.0) / achieved * 1000,
        }
        for s in services
        if s["service"] != service
    }


def write_outputs(
    result: ScaleResult,
    options: ScaleOptions,
    spec: SystemSpec,
    elapsed: float,
    others: Mapping[str, int],
) -> list[Path]:
    """Write the three files; fills result.summary, result.journal and result.outputs."""
    caps = _capacities(result.counts)
    eff = efficiency(caps) if 1 in caps else {}
    fit: UslFit | None = fit_usl(caps) if len(caps) >= 2 else None
    gains = _gains(result.counts, caps)
    journal = {
        "system": spec.name,
        "system_file": str(options.system),
        "service": options.service,
        "journey": options.journey,
        "slo": [
            o.describe()
            for j in (spec.slo.journeys if spec.slo else ())
            if j.journey == options.journey
            for o in j.objectives
        ],
        "step_seconds": options.step_seconds,
        "wall_seconds": elapsed,
        "other_services_replicas": dict(others),
        "counts": [
            {
                "replicas": c.replicas,
                "capacity": c.capacity,
                "efficiency": eff.get(c.replicas),
                "bottleneck_at_knee": c.knee.to_json() if c.knee else None,
                "bottleneck_above_knee": c.above.to_json() if c.above else None,
                "probe": c.probe.to_json() if c.probe else None,
                "other_services_at_probe": _others_cpu(c, options.service),
                "steps": [s.to_json() for s in c.steps],
            }
            for c in result.counts
        ],
        "usl": fit.to_json() if fit else None,
        "gains": [g.to_json() for g in gains],
    }
    result.journal = journal
    result.run_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        result.run_dir / "journal.json",
        result.run_dir / "summary.md",
        result.run_dir / "report.html",
    ]
    paths[0].write_text(json.dumps(journal, indent=2, default=str) + "\n")
    result.summary = summary(result, options, caps, eff, fit, gains, elapsed)
    paths[1].write_text(result.summary + "\n")
    paths[2].write_text(report_html(result, options, caps, fit))
    result.outputs = paths
    return paths


def summary(
    result: ScaleResult,
    options: ScaleOptions,
    caps: Mapping[int, float],
    eff: Mapping[int, float],
    fit: UslFit | None,
    gains: list[Gain],
    elapsed: float,
) -> str:
    """summary.md: one row per replica count, the fit, the gains, the saturated service."""
    lines = [
        f"# Capacity of {options.journey} by replicas of {options.service}",
        "",
        "| replicas | capacity (/s) | efficiency | steps | saturated at the knee | just above it |",
        "|---|---|---|---|---|---|",
    ]
    for c in result.counts:
        cap = f"{c.capacity:.2f}" if c.capacity is not None else "none passed"
        e = f"{eff[c.replicas]:.2f}" if c.replicas in eff else "-"
        lines.append(
            f"| {c.replicas} | {cap} | {e} | {len(c.steps)} | "
            f"{c.knee.describe() if c.knee else '-'} | {c.above.describe() if c.above else '-'} |"
        )
    lines += ["", f"USL: {fit.describe()}" if fit else "USL: needs two or more capacities"]
    for gain in gains:
        lines.append(f"- {gain.replicas} replicas vs 1: {gain.describe()}")
    lines.append(f"\nWall time {elapsed:.0f}s; each step {options.step_seconds:g}s judged.")
    return "\n".join(lines)


def report_html(
    result: ScaleResult, options: ScaleOptions, caps: Mapping[int, float], fit: UslFit | None
) -> str:
    """A self-contained HTML page with the capacity curve and every step."""
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            f"capacity of {options.journey} by replicas of {options.service}",
            "every step: offered vs achieved (x: fail)",
        ),
    )
    ns = sorted(caps)
    figure.add_trace(
        go.Scatter(
            x=ns,
            y=[caps[n] for n in ns],
            mode="markers+lines",
            name="measured capacity",
            marker={"size": 11},
        ),
        1,
        1,
    )
    if ns and 1 in caps:
        top = max(ns) + 1
        figure.add_trace(
            go.Scatter(
                x=[0, top], y=[0, caps[1] * top], mode="lines", name="linear", line={"dash": "dot"}
            ),
            1,
            1,
        )
    if fit is not None:
        xs = [x / 10 for x in range(10, int((max(ns) + 1) * 10) + 1)]
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=[fit.predict(x) for x in xs],
                mode="lines",
                name=f"USL fit (sigma {fit.sigma:.3f}, kappa {fit.kappa:.4f})",
            ),
            1,
            1,
        )
    for c in result.counts:
        figure.add_trace(
            go.Scatter(
                x=[s.rate for s in c.steps],
                y=[s.achieved for s in c.steps],
                mode="markers",
                name=f"{c.replicas} replica(s)",
                marker={"symbol": ["circle" if s.passed else "x" for s in c.steps], "size": 9},
                text=[f"p95 {s.p95_ms or 0:.0f} ms, errors {s.error_rate:.1%}" for s in c.steps],
            ),
            1,
            2,
        )
    figure.update_xaxes(title_text="replicas", row=1, col=1)
    figure.update_yaxes(title_text=f"{options.journey} /s meeting its SLO", row=1, col=1)
    figure.update_xaxes(title_text="offered /s", row=1, col=2)
    figure.update_yaxes(title_text="achieved /s", row=1, col=2)
    figure.update_layout(height=520, title=f"gameday scale: {options.service} / {options.journey}")
    table = "".join(
        f"<p>{line}</p>"
        for line in result.summary.splitlines()
        if line.strip() and not line.startswith("|")
    )
    body = figure.to_html(include_plotlyjs=True, full_html=False)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>gameday scale</title></head>"
        f"<body>{body}{table}</body></html>\n"
    )
