"""The docs' shell examples that talk to the shop, run as written against a `gameday up`.

The blocks marked `<!-- shop-example -->` in README.md and docs/*.md run in order in one
bash (as a reader pastes them into one terminal), in the directory of a `gameday up` of the
shop, with only the virtualenv's bin/ and the system's on PATH and nothing else of this
process's environment. A curl answered with a 4xx or 5xx fails the run, except in blocks
marked `<!-- shop-example errors-ok -->`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.support import ROOT

pytestmark = pytest.mark.slow

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SYSTEM_FILE = ROOT / "sample_system" / "system.yaml"
FENCE = re.compile(r"^```(bash|sh|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!-- shop-example( errors-ok)? -->\n$")
TALKS_TO_THE_SHOP = re.compile(r"\bcurl\b|\$GW\b|sample_system\.audit")
# Strict curl: a 4xx/5xx answer fails the example (its body is still printed).
PRELUDE = """
curl() {
    if [ "$STRICT" = 1 ]; then command curl --fail-with-body "$@"; else command curl "$@"; fi
}
"""


@dataclass(frozen=True)
class Example:
    """A shell block of a doc."""

    where: str
    code: str
    marked: bool
    errors_ok: bool


def examples(doc: Path) -> list[Example]:
    """Every shell block of `doc`, with whether the line before it marks it a shop example."""
    text = doc.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()]
        marker = MARKER.search(before[-60:])
        line = before.count("\n") + 1
        found.append(
            Example(
                where=f"{doc.relative_to(ROOT)}:{line}",
                code=match.group(2),
                marked=marker is not None,
                errors_ok=bool(marker and marker.group(1)),
            )
        )
    return found


def script(blocks: list[Example]) -> str:
    """The marked blocks as one bash script, each announced on stderr."""
    parts = [PRELUDE]
    for block in blocks:
        parts.append(f"echo '--- {block.where}' >&2\nSTRICT={0 if block.errors_ok else 1}\n")
        parts.append(block.code)
    return "\n".join(parts)


def test_every_shell_example_that_talks_to_the_shop_is_marked():
    unmarked = [
        block.where
        for doc in DOCS
        for block in examples(doc)
        if TALKS_TO_THE_SHOP.search(block.code) and not block.marked
    ]
    assert unmarked == [], "mark these <!-- shop-example --> so the test runs them"


def test_the_shop_examples_run_as_written(tmp_path: Path):
    require_binary("curl", "sudo apt-get install curl")
    blocks = [block for doc in DOCS for block in examples(doc) if block.marked]
    assert len(blocks) >= 6, [b.where for b in blocks]
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    env["LANG"] = "C.UTF-8"

    def gameday(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "gameday"), *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    up = gameday("up", str(SYSTEM_FILE))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script(blocks)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        down = gameday("down")
    assert done.returncode == 0, f"{done.stderr}\n{done.stdout}"
    assert down.returncode == 0, down.stdout + down.stderr
    out = done.stdout
    assert '"state":"confirmed"' in out, out  # the checkout went through
    assert "missing_service_token" in out, out  # the internal call without the secret
    assert '"ok": true' in out, out  # the audit, with the secret
