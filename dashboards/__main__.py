"""`python -m dashboards`: regenerate the boards' JSON, the rules and their unit tests."""

from pathlib import Path

from dashboards.build import generate, write

for path in write(generate(Path(__file__).parent)):
    print(f"wrote {path}")
