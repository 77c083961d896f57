"""The checked-in generated files are what the code generates (`python -m dashboards`)."""

from __future__ import annotations

from pathlib import Path

from dashboards.build import generate

FOLDER = Path(__file__).parents[2] / "dashboards"


def test_generated_files_are_up_to_date():
    stale = [
        str(path.relative_to(FOLDER))
        for path, text in generate(FOLDER).items()
        if not path.is_file() or path.read_text() != text
    ]
    assert not stale, f"regenerate with `python -m dashboards`: {stale}"
