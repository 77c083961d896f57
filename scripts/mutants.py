"""Mutation testing of the fault-isolation matrix: does `gameday ci` catch real resilience bugs?

    .venv/bin/python scripts/mutants.py                       # every mutant, then 5 clean runs
    .venv/bin/python scripts/mutants.py --only balancer-never-ejects --clean 0
    .venv/bin/python scripts/mutants.py --clean 5 --mutants none   # the unmodified shop only

Each mutant in tests/mutants/*.patch is a small, realistic resilience bug in the shop, with a
header naming the bug and the cell(s) expected to catch it:

    Bug: the gateway waits up to 30 s for catalog: a timeout in name only.
    Expected: catalog:latency

For each one the script copies the repository's tracked files into a scratch directory,
applies the patch, and runs `gameday ci sample_system/system.yaml` there (the runtime puts
the copy first on PYTHONPATH, so the services run the mutated code). A mutant is *caught*
when gameday ci exits 1 and one of the cells that failed is an expected one. Then the
unmodified shop runs `--clean` times: each must pass (exit 0). The table is printed as
Markdown. Run it alone on the machine (it is heavy): `flock /tmp/gameday-heavy.lock ...`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "tests" / "mutants"
SYSTEM = "sample_system/system.yaml"


@dataclass(frozen=True)
class Mutant:
    """One patch and what should catch it."""

    name: str
    patch: Path
    bug: str
    expected: tuple[str, ...]


@dataclass
class Outcome:
    """What one `gameday ci` run said."""

    name: str
    exit_code: int
    failed_cells: list[str]
    seconds: float
    run_dir: Path


def read_mutants(only: list[str] | None) -> list[Mutant]:
    """Every tests/mutants/*.patch with its header (Bug:, Expected:)."""
    mutants = []
    for patch in sorted(MUTANTS.glob("*.patch")):
        header = patch.read_text().split("diff --git", 1)[0]
        fields = {
            key.strip().lower(): value.strip()
            for key, _, value in (line.partition(":") for line in header.splitlines())
            if value
        }
        if "expected" not in fields:
            raise SystemExit(f"{patch}: the header needs 'Expected: <cell>[, <cell>]'")
        mutants.append(
            Mutant(
                patch.stem,
                patch,
                fields.get("bug", ""),
                tuple(c.strip() for c in fields["expected"].split(",")),
            )
        )
    if only is not None:
        unknown = set(only) - {m.name for m in mutants}
        if unknown:
            raise SystemExit(f"no mutant {sorted(unknown)}; there are {[m.name for m in mutants]}")
        mutants = [m for m in mutants if m.name in only]
    return mutants


def copy_repository(into: Path) -> Path:
    """The tracked files of the repository, copied to `into` (no .git, .venv or runs)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            target = into / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


def run_ci(workdir: Path, name: str, runs: Path) -> Outcome:
    """`gameday ci` on the shop in `workdir`; which cells failed."""
    run_dir = runs / name
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("gameday")), "ci", SYSTEM, "--run-dir", str(run_dir)],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    (runs / f"{name}.log").write_text(done.stdout)
    failed: list[str] = []
    try:
        journal = json.loads((run_dir / "journal.json").read_text())
        cells = (journal.get("matrix_verdict") or {}).get("cells", [])
        failed = [c["id"] for c in cells if not c["passed"]]
    except (OSError, ValueError):
        pass
    return Outcome(name, done.returncode, failed, time.monotonic() - started, run_dir)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these mutants")
    parser.add_argument("--mutants", choices=("all", "none"), default="all")
    parser.add_argument("--clean", type=int, default=5, help="runs of the unmodified shop")
    parser.add_argument("--out", type=Path, default=ROOT / ".gameday" / "mutants")
    args = parser.parse_args()
    mutants = [] if args.mutants == "none" else read_mutants(args.only)
    runs = args.out / time.strftime("%Y%m%dT%H%M%S")
    runs.mkdir(parents=True, exist_ok=True)
    rows = []
    for mutant in mutants:
        with tempfile.TemporaryDirectory(prefix=f"gameday-mutant-{mutant.name}-") as scratch:
            workdir = copy_repository(Path(scratch))
            subprocess.run(["git", "apply", str(mutant.patch)], cwd=workdir, check=True)
            outcome = run_ci(workdir, mutant.name, runs)
        caught = outcome.exit_code == 1 and any(c in outcome.failed_cells for c in mutant.expected)
        rows.append((mutant, outcome, caught))
        print(f"{mutant.name}: {'CAUGHT' if caught else 'MISSED'} (exit {outcome.exit_code}, "
              f"failed {outcome.failed_cells}, {outcome.seconds:.0f}s)", flush=True)  # fmt: skip
    clean = []
    for number in range(1, args.clean + 1):
        with tempfile.TemporaryDirectory(prefix="gameday-clean-") as scratch:
            outcome = run_ci(copy_repository(Path(scratch)), f"clean-{number}", runs)
        clean.append(outcome)
        print(f"clean run {number}: exit {outcome.exit_code}, failed {outcome.failed_cells}, "
              f"{outcome.seconds:.0f}s", flush=True)  # fmt: skip
    print()
    if rows:
        print("| mutant | bug | expected cell | caught | cells that failed | wall |")
        print("|---|---|---|---|---|---|")
        for mutant, outcome, caught in rows:
            print(
                f"| {mutant.name} | {mutant.bug} | {', '.join(mutant.expected)} | "
                f"{'yes' if caught else '**no**'} | {', '.join(outcome.failed_cells) or '-'} | "
                f"{outcome.seconds:.0f}s |"
            )
        print(f"\ncaught {sum(c for *_, c in rows)} of {len(rows)} mutants")
    if clean:
        passed = sum(o.exit_code == 0 for o in clean)
        print(f"unmodified shop: {passed} of {len(clean)} runs passed "
              f"({', '.join(f'{o.seconds:.0f}s' for o in clean)})")  # fmt: skip
    print(f"outputs: {runs}")
    all_caught = all(c for *_, c in rows)
    return 0 if all_caught and all(o.exit_code == 0 for o in clean) else 1


if __name__ == "__main__":
    sys.exit(main())
