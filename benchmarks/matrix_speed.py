"""How long the shop's whole fault-isolation matrix takes, and how much it judged.

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/matrix_speed.py
    .venv/bin/python benchmarks/matrix_speed.py --faults down,latency --only payments

Runs `gameday matrix` on the system file (default: the shop, default fault set) and prints
the wall time, the time to the first fault (start, warm-up, baseline), the mean and slowest
cell cycle (inject -> window -> removal -> recovery -> next injection), the cells planned,
injected and re-run, the requests the load sent, the requests judged in fault windows and in
baselines, and the verdict. Run it alone on the machine: a matrix is a measurement.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadtests.windows import Window, WindowSet, read_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("system", nargs="?", default="sample_system/system.yaml")
    parser.add_argument("--faults")
    parser.add_argument("--only")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="gameday-matrix-speed-")) / "run"
    command = [str(Path(sys.executable).with_name("gameday")), "matrix", args.system,
               "--run-dir", str(run_dir)]  # fmt: skip
    command += ["--faults", args.faults] if args.faults else []
    command += ["--only", args.only] if args.only else []
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    journal = json.loads((run_dir / "journal.json").read_text())
    verdict = journal.get("matrix_verdict") or {}
    cells = journal.get("cells", [])
    starts = [c["windows"]["fault"][0] for c in cells]
    cycles = [b - a for a, b in itertools.pairwise(starts)]
    samples = read_run(run_dir / "load")
    sent = sum(samples.stats(j).offered for j in samples.journeys)
    in_faults = in_baselines = 0
    for cell in cells:
        fault = Window("fault", *cell["windows"]["fault"])
        baseline = WindowSet.of(
            "baseline", [Window("b", a, b) for a, b in cell["baseline_parts"]]
        )
        for journey in samples.journeys:
            in_faults += samples.stats(journey, fault).offered
            in_baselines += samples.stats(journey, baseline).offered
    plan = journal.get("plan", [])
    print(f"system file        {args.system}")
    print(f"exit code          {done.returncode} ({verdict.get('outcome', journal.get('status'))})")
    print(f"wall time          {wall:.0f} s (the matrix process, start to exit)")
    if starts:
        first = starts[0] - journal["started"]
        print(f"first fault after  {first:.0f} s (start, warm-up, baseline)")
        print(f"cell cycle         mean {statistics.mean(cycles or [0]):.1f} s, "
              f"slowest {max(cycles or [0]):.0f} s")  # fmt: skip
    runs = sum(1 for c in plan if c["skip"] is None and c["same_as"] is None)
    print(f"cells              {len(plan)} planned, {runs} injected, "
          f"{len(cells) - runs} re-run, {len(verdict.get('cells', []))} judged")  # fmt: skip
    print(f"comparisons        {verdict.get('comparisons', 0)} (one false-discovery budget)")
    print(f"requests           {sent} sent; judged: {in_faults} in fault windows, "
          f"{in_baselines} in baselines")  # fmt: skip
    failed = [c["id"] for c in verdict.get("cells", []) if not c["passed"]]
    print(f"failed cells       {', '.join(failed) or 'none'}")
    print(f"outputs            {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
