"""Judging an autoscaling experiment, and plotting replicas over time against load and p95.

    verdict = judge_autoscaling(claim, spec, run_dir, windows)   # after the run
    verdict.passed, verdict.checks                                # one line per claim
    write_plot(run_dir, spec, windows)                            # autoscaling.html

The claims (an experiment's `autoscaling:` section, docs/scaling.md): the named services
scale out during the fault window (here a load spike), no other service scales at all,
every journey is within its SLO from `within_slo_after` after the window starts until the
end of the run, and the scaled services are back to their starting count by the end.
Replica counts come from the run's events.jsonl (`scaled` events), the metric readings
from autoscaler.jsonl.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chaos.experiment.model import AutoscalingClaim
from chaos.judgement.slo import evaluate
from chaos.runtime.autoscaler import read_decisions
from chaos.runtime.events import read_events
from chaos.system.model import SystemSpec
from loadtests.windows import SampleSet, Window

OUTPUT = "autoscaling.html"


@dataclass(frozen=True)
class ScaleChange:
    """One change of a service's replica count."""

    time: float
    service: str
    before: int
    after: int


def scale_changes(run_dir: Path) -> list[ScaleChange]:
    """Every `scaled` event of a run, in order."""
    changes = []
    for event in read_events(Path(run_dir) / "events.jsonl"):
        if event.event == "scaled":
            counts = event.detail.split(" in ")[0].split(" -> ")
            changes.append(ScaleChange(event.time, event.service, int(counts[0]), int(counts[1])))
    return changes


@dataclass(frozen=True)
class AutoscalingVerdict:
    """Each claim with what was observed."""

    checks: tuple[tuple[str, bool, str], ...]  # (claim, held, observed)

    @property
    def passed(self) -> bool:
        """True when every claim held."""
        return all(held for _, held, _ in self.checks)

    def format(self) -> str:
        """One line per claim."""
        return "\n".join(
            f"{'ok    ' if held else 'FAILED'} {claim}: {seen}" for claim, held, seen in self.checks
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "passed": self.passed,
            "checks": [{"claim": c, "held": h, "observed": o} for c, h, o in self.checks],
        }


def judge_autoscaling(
    claim: AutoscalingClaim,
    spec: SystemSpec,
    run_dir: Path,
    samples: SampleSet,
    windows: Mapping[str, tuple[float, float]],
) -> AutoscalingVerdict:
    """Check the claim against the run's events and samples."""
    fault_start, fault_end = windows["fault"]
    run_end = windows["recovery"][1]
    changes = scale_changes(run_dir)
    checks: list[tuple[str, bool, str]] = []
    for service in claim.scales:
        mine = [c for c in changes if c.service == service]
        out = [c for c in mine if c.after > c.before and fault_start <= c.time <= fault_end]
        first = (
            f"{out[0].before} -> {out[0].after} at +{out[0].time - fault_start:.1f}s"
            if out
            else "none"
        )
        checks.append((f"{service} scales out during the spike", bool(out), f"first: {first}"))
        if claim.scale_in:
            start = mine[0].before if mine else None
            end = mine[-1].after if mine else None
            back = start is not None and end == start and mine[-1].time >= fault_end
            checks.append(
                (
                    f"{service} scales back in after it",
                    back,
                    f"{start} at the start, {end} at the end",
                ),
            )
    others = sorted({c.service for c in changes if c.service not in claim.scales})
    checks.append(("no other service scales", not others, ", ".join(others) or "none scaled"))
    assert spec.slo is not None
    after = Window(
        "after scale-out", float(int(fault_start + claim.within_slo_after) + 1), float(int(run_end))
    )
    verdict = evaluate(spec.slo, samples, [after])
    breaches = "; ".join(c.format() for c in verdict.breaches[:4])
    checks.append(
        (
            f"every journey within SLO from +{claim.within_slo_after:g}s after the spike starts",
            verdict.passed,
            breaches or f"{len(verdict.checks)} checks held",
        ),
    )
    return AutoscalingVerdict(tuple(checks))


def write_plot(
    run_dir: Path, spec: SystemSpec, samples: SampleSet, windows: Mapping[str, tuple[float, float]]
) -> Path:
    """autoscaling.html: load and p95 per journey, replicas per service, over time."""
    start = windows.get("warmup", windows["baseline"])[0]
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=(
            "offered load per journey (/s)",
            "p95 per journey (ms)",
            "replicas per service, and the autoscaler's metric",
        ),
        specs=[[{}], [{}], [{"secondary_y": True}]],
    )
    for journey in samples.journeys:
        seconds = list(samples.per_second(journey))
        xs = [s.window.start - start for s in seconds]
        figure.add_trace(
            go.Scatter(
                x=xs, y=[s.offered_rate for s in seconds], name=journey, legendgroup=journey
            ),
            1,
            1,
        )
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=[s.percentile_ms(95) for s in seconds],
                name=f"{journey} p95",
                legendgroup=journey,
            ),
            2,
            1,
        )
    changes = scale_changes(run_dir)
    end = windows["recovery"][1]
    initial = {n: s.replicas for n, s in spec.services.items()}
    for change in changes:
        initial.setdefault(change.service, change.before)
    firsts: dict[str, int] = {}
    for change in changes:
        firsts.setdefault(change.service, change.before)
    for service in spec.services:
        count = firsts.get(service, initial[service])
        xs, ys = [0.0], [count]
        for change in (c for c in changes if c.service == service):
            xs.append(change.time - start)
            ys.append(change.after)
        xs.append(end - start)
        ys.append(ys[-1])
        figure.add_trace(
            go.Scatter(x=xs, y=ys, name=f"{service} replicas", line_shape="hv"),
            3,
            1,
            secondary_y=False,
        )
    for service in spec.autoscaled:
        rows = [r for r in read_decisions(run_dir) if r["service"] == service]
        figure.add_trace(
            go.Scatter(
                x=[r["wall"] - start for r in rows],
                y=[r["metric"] for r in rows],
                name=f"{service} {spec.autoscaled[service].metric}",
                line={"dash": "dot"},
            ),
            3,
            1,
            secondary_y=True,
        )
    for name in ("fault", "recovery"):
        if name in windows:
            figure.add_vline(x=windows[name][0] - start, line_dash="dash", line_color="grey")
    figure.update_xaxes(title_text="seconds since the start of the load", row=3, col=1)
    figure.update_layout(height=900, title=f"{spec.name}: autoscaling under a load spike")
    path = Path(run_dir) / OUTPUT
    path.write_text(figure.to_html(include_plotlyjs=True, full_html=True))
    (Path(run_dir) / "autoscaling.json").write_text(
        json.dumps([c.__dict__ for c in changes], indent=2) + "\n"
    )
    return path


def observe_autoscaling(
    claim: AutoscalingClaim | None,
    spec: SystemSpec,
    run_dir: Path,
    samples_dir: Path,
    windows: Mapping[str, tuple[float, float]],
) -> AutoscalingVerdict | None:
    """The experiment runner's hook: judge the claim and plot the run (None without a claim)."""
    if claim is None or "recovery" not in windows:
        return None
    from loadtests.windows import read_run

    samples = read_run(samples_dir)
    verdict = judge_autoscaling(claim, spec, run_dir, samples, windows)
    write_plot(run_dir, spec, samples, windows)
    print(f"autoscaling ({run_dir / OUTPUT}):\n{verdict.format()}", flush=True)
    return verdict
