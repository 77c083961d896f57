"""A page model to one self-contained HTML file: no request leaves it when it opens.

plotly.js, the stylesheet, the script and every figure's JSON are inlined once. Charts are
drawn in the browser when their section is opened (`templates/report.js`), so a matrix of
fifty cells opens as fast as one. Text is escaped by Jinja2's autoescaping; the figures'
JSON is escaped for a <script> element. Pure: a string in, a string out.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2
import plotly.offline
from markupsafe import Markup

from chaos.report.html.figures import TEMPLATE
from chaos.report.html.model import Page

PACKAGE = "chaos.report.html"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _asset(name: str) -> str:
    return (files(PACKAGE) / "templates" / name).read_text(encoding="utf-8")


def script_json(value: Any) -> Markup:
    """JSON safe inside a <script> element: no `</script>` or `<!--` can end it early."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render(page: Page) -> str:
    """The whole HTML document of `page`."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        page=page,
        data=script_json({"template": TEMPLATE, "figures": page.figures}),
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
        style=Markup(_asset("report.css")),
        script=Markup(_asset("report.js")),
    )
