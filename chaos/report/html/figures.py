"""The report's plotly figures, as JSON the page renders with plotly.js. Pure.

    timeline_figure(series, shades, origin)      # latency p50/p95 and error rate per second
    heatmap_figure(heatmap)                      # targets x fault kinds, one cell per plan cell

Figures are built with plotly's graph objects (every property validated here, not in the
browser) and shipped without their template: the page holds one template for all of them
(`TEMPLATE`), so fifty cells do not carry fifty copies of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import plotly.colors
import plotly.graph_objects as go
import plotly.io
from plotly.subplots import make_subplots

from chaos.report.html.series import Series

TEMPLATE: dict[str, Any] = plotly.io.templates["plotly_white"].to_plotly_json()
PALETTE = plotly.colors.qualitative.Safe  # distinguishable with colour-blind eyes too
SHADE_COLOURS = {
    "warm-up": "rgba(160, 160, 160, 0.12)",
    "baseline": "rgba(80, 120, 200, 0.12)",
    "fault": "rgba(220, 60, 40, 0.18)",
    "recovery": "rgba(40, 170, 110, 0.12)",
}
SKIPPED_COLOUR = "rgb(215, 215, 215)"


@dataclass(frozen=True)
class Shade:
    """A shaded span of a timeline: a phase of the run (unix seconds)."""

    name: str  # a key of SHADE_COLOURS
    start: float
    end: float
    label: bool = True  # write its name above it (once per phase)


@dataclass(frozen=True)
class HeatCell:
    """One planned cell of the matrix, as the heatmap shows it."""

    target: str
    kind: str
    state: str  # "pass", "fail", "skipped", "not run"
    moved: int  # journeys that moved during the fault (its blast radius)
    label: str  # drawn in the cell
    hover: str  # shown on hover (HTML of plotly's hover labels)
    anchor: str  # the id of its detail in the page


def colours(journeys: Sequence[str]) -> dict[str, str]:
    """One colour per journey, the same in every chart of the page."""
    return {j: PALETTE[i % len(PALETTE)] for i, j in enumerate(journeys)}


def _strip(figure: go.Figure) -> dict[str, Any]:
    data: dict[str, Any] = figure.to_plotly_json()
    data["layout"].pop("template", None)
    return {"data": data["data"], "layout": data["layout"]}


def _rounded(values: Sequence[float | None], digits: int) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]


@cache
def _timeline_layout() -> str:
    """Two rows sharing x, as plotly lays them out (JSON: each figure gets its own copy)."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.62, 0.38]
    )
    figure.update_yaxes(title_text="latency (ms)", type="log", row=1, col=1)
    figure.update_yaxes(title_text="errors", tickformat=".0%", rangemode="tozero", row=2, col=1)
    figure.update_xaxes(title_text="seconds since the fault began", row=2, col=1)
    figure.update_layout(
        title={
            "text": "latency per second: p95 solid, p50 dotted (log scale); error rate below",
            "font": {"size": 12},
            "x": 0,
            "xref": "paper",
        },
        height=420,
        margin={"l": 60, "r": 20, "t": 36, "b": 40},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.18, "x": 0},
    )
    return json.dumps(_strip(figure)["layout"])


def timeline_figure(
    series: Sequence[Series], shades: Sequence[Shade], origin: float, palette: dict[str, str]
) -> dict[str, Any]:
    """Latency (p95 solid, p50 dotted; log scale) above error rate, per journey, with the
    run's phases shaded; x is seconds since `origin` (the fault's start).

    Traces and shapes are written as plotly JSON directly: graph objects validate each
    property as it is set, a quarter of a second per figure, too slow for fifty cells
    (the tests validate these figures with graph objects instead).
    """
    data: list[dict[str, Any]] = []
    for s in series:
        colour = palette.get(s.journey, PALETTE[0])
        # a second covers [s, s+1): its point sits at the middle, inside the window it counts in
        common = {
            "type": "scatter",
            "mode": "lines",
            "name": s.journey,
            "legendgroup": s.journey,
            "x0": s.start + 0.5 - origin,
            "dx": 1,
        }
        data += [
            {
                **common,
                "y": _rounded(s.p95_ms, 1),
                "line": {"color": colour},
                "hovertemplate": "p95 %{y:.0f} ms",
                "xaxis": "x",
                "yaxis": "y",
            },
            {
                **common,
                "y": _rounded(s.p50_ms, 1),
                "line": {"color": colour, "dash": "dot"},
                "hovertemplate": "p50 %{y:.0f} ms",
                "showlegend": False,
                "xaxis": "x",
                "yaxis": "y",
            },
            {
                **common,
                "y": _rounded(s.error_rate, 4),
                "line": {"color": colour},
                "hovertemplate": "errors %{y:.1%}",
                "showlegend": False,
                "xaxis": "x2",
                "yaxis": "y2",
            },
        ]
    layout: dict[str, Any] = json.loads(_timeline_layout())
    layout["shapes"] = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": round(shade.start - origin, 3),
            "x1": round(shade.end - origin, 3),
            "y0": 0,
            "y1": 1,
            "fillcolor": SHADE_COLOURS[shade.name],
            "line": {"width": 0},
            "layer": "below",
        }
        for shade in shades
    ]
    labelled = [shade for shade in shades if shade.label]
    layout["annotations"] = [
        {  # at the left of its span, inside the plot; every other one lower, so that the
            # labels of short neighbouring phases (a 3 s fault, then recovery) do not overlap
            "x": round(shade.start - origin, 3),
            "y": 1.0 if i % 2 == 0 else 0.92,
            "xref": "x",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "top",
            "text": shade.name,
            "showarrow": False,
            "font": {"size": 10, "color": "#555"},
        }
        for i, shade in enumerate(labelled)
    ]
    return {"data": data, "layout": layout}


def heat_colourscale(journeys: int) -> tuple[list[list[Any]], list[int], list[str]]:
    """A stepped colour scale over the codes of `heat_code`, with its tick values and labels:
    grey for skipped, blues for passing cells, reds for failing ones, darker as more
    journeys moved."""
    bands = [SKIPPED_COLOUR]
    labels = ["skipped / not run"]
    share = [k / max(journeys, 1) for k in range(journeys + 1)]  # of the journeys, moved
    bands += plotly.colors.sample_colorscale("Blues", [0.15 + 0.75 * s for s in share])
    labels += [f"pass, {k} moved" for k in range(journeys + 1)]
    bands += plotly.colors.sample_colorscale("Reds", [0.3 + 0.6 * s for s in share])
    labels += [f"FAIL, {k} moved" for k in range(journeys + 1)]
    scale: list[list[Any]] = []
    for code, colour in enumerate(bands):
        scale.append([code / len(bands), colour])
        scale.append([(code + 1) / len(bands), colour])
    return scale, list(range(len(bands))), labels


def heat_code(cell: HeatCell, journeys: int) -> int:
    """The colour code of a cell: 0 skipped; 1 + moved when it passed; 2 + journeys + moved
    when it failed."""
    if cell.state == "pass":
        return 1 + cell.moved
    if cell.state == "fail":
        return 2 + journeys + cell.moved
    return 0


def heatmap_figure(
    cells: Sequence[HeatCell], targets: Sequence[str], kinds: Sequence[str], journeys: int
) -> dict[str, Any]:
    """Targets (rows, in plan order) x fault kinds (columns); a cell that is not planned
    stays empty. `customdata` holds each cell's anchor: a click opens its detail."""
    row = {t: i for i, t in enumerate(targets)}
    column = {k: i for i, k in enumerate(kinds)}

    def grid() -> list[list[Any]]:
        return [[None] * len(kinds) for _ in targets]

    z, hover, anchors = grid(), grid(), grid()
    text = [[""] * len(kinds) for _ in targets]
    for cell in cells:
        r, c = row[cell.target], column[cell.kind]
        z[r][c] = heat_code(cell, journeys)
        text[r][c], hover[r][c], anchors[r][c] = cell.label, cell.hover, cell.anchor
    scale, ticks, labels = heat_colourscale(journeys)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(kinds),
            y=list(targets),
            text=text,
            customdata=anchors,
            texttemplate="%{text}",
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            colorscale=scale,
            zmin=-0.5,
            zmax=len(ticks) - 0.5,
            xgap=2,
            ygap=2,
            colorbar={"tickvals": ticks, "ticktext": labels, "thickness": 14, "len": 1.0},
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(side="top", type="category")
    figure.update_layout(
        height=90 + 30 * len(targets),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
    )
    return _strip(figure)
