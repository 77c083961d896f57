"""report.html is one self-contained file: plotly.js inlined once, nothing fetched, every
text escaped (hostile input puts HTML into the journal)."""

from __future__ import annotations

import re
from pathlib import Path

import plotly.offline

from chaos.report.html.render import script_json
from chaos.report.html.write import write_matrix_report
from tests.chaos.report.synthetic import HOSTILE_500_BODY, matrix_run


def test_the_file_is_self_contained_and_escapes_what_it_shows(tmp_path: Path) -> None:
    result = matrix_run(tmp_path)
    html = write_matrix_report(result).read_text()

    plotly_js = plotly.offline.get_plotlyjs()
    assert html.count(plotly_js) == 1  # inlined, once
    page = html.replace(plotly_js, "")  # (plotly.js itself holds links it never follows)
    assert re.search(r"<script[^>]+src=", page) is None
    assert re.search(r"<link[^>]+href=\"(?!data:)", page) is None
    assert re.search(r"(src|href)=[\"'](https?:)?//", page) is None
    assert "https://" not in page and "http://" not in page.replace("http://127.0.0.1:9", "")
    # the hostile answer is shown as text, never as markup
    assert HOSTILE_500_BODY not in html
    assert "&lt;html&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    size = len(html.encode())
    assert size < len(plotly_js) + 600_000, size  # the page's own weight stays small


def test_json_in_a_script_element_cannot_end_it() -> None:
    text = str(script_json({"journey": "</script><script>alert(1)</script>", "a&b": "<!--"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert text.startswith('{"journey":"\\u003c/script\\u003e')
