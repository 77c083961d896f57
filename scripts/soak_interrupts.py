"""Soak: interrupt `gameday run` at random moments, many times, and count what is left behind.

    flock /tmp/gameday-heavy.lock .venv/bin/python scripts/soak_interrupts.py [--runs N] [--seed S]

Each run is `gameday run --no-live` of the 10-second experiment on the two-service test system
(tests/chaos/experiment/quick.yaml). At a moment drawn uniformly from the whole run (start-up to
the verdict) it gets SIGINT, SIGTERM or SIGKILL, chosen at random. Then:

- SIGINT / SIGTERM: the run must clean up by itself; checked as soon as it exits;
- SIGKILL: the run's watchdog must stop everything within a few seconds by itself (checked
  after 15 s at most), then `gameday rollback RUN_DIR` runs and everything is checked again.

Left behind counts: a process carrying the run's GAMEDAY_RUN_DIR, a watchdog still alive, the
run's fault proxy still answering, a journal still `running` or listing a live fault, and a
run that ended early without its summary.md and junit.xml. Prints one line per run and a
summary; exit code 1 when any run left anything. Not a CI test: 100 runs take ~25 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.procfs import is_running, pids_with_env  # noqa: E402
from chaos.proxy.client import ToxiproxyClient  # noqa: E402

EXPERIMENT = ROOT / "tests" / "chaos" / "experiment" / "quick.yaml"
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
FULL_RUN = 14.0  # seconds: start-up, 10 s of timeline, verdict, stop (~13 s on 2 cores)


@dataclass
class Outcome:
    """One interrupted run."""

    number: int
    signal: str
    at: float
    phase: str
    exit_code: int | None = None
    left_alone: list[str] = field(default_factory=list)  # before any rollback
    left_after_rollback: list[str] = field(default_factory=list)


def _journal(workdir: Path, before: set[Path]) -> tuple[Path | None, dict[str, Any]]:
    for path in sorted((workdir / ".gameday" / "runs").glob("quick-*/journal.json")):
        if path not in before:
            try:
                return path.parent, dict(json.loads(path.read_text()))
            except ValueError:
                return path.parent, {}
    return None, {}


def _phase(journal: dict[str, Any], ended: bool) -> str:
    if ended:
        return "after the end"
    windows, faults = journal.get("windows") or {}, journal.get("faults") or []
    if not journal:
        return "before the journal"
    if "recovery" in windows:
        return "verdict"
    if any(f["state"] == "removed" for f in faults):
        return "recovery"
    if faults:
        return "fault"
    if "baseline" in windows:
        return "injection"
    if "warmup" in windows:
        return "warm-up/baseline"
    return "start-up"


def leftovers(run_dir: Path | None) -> list[str]:
    """What the run left: processes, watchdog, fault proxy, live faults, missing outputs."""
    if run_dir is None:
        return []
    found = []
    processes = pids_with_env("GAMEDAY_RUN_DIR", str(run_dir))
    if processes:
        found.append(f"processes {processes}")
    try:
        journal = json.loads((run_dir / "journal.json").read_text())
    except (OSError, ValueError) as exc:
        return [*found, f"journal unreadable: {exc}"]
    dog = journal.get("watchdog")
    if isinstance(dog, int) and is_running(dog):
        found.append(f"watchdog {dog} still running")
    url = journal.get("toxiproxy")
    if url and ToxiproxyClient(url, timeout=1.0).running():
        found.append(f"fault proxy {url} still answering")
    if journal.get("status") == "running":
        found.append("journal still running")
    live = [f["name"] for f in journal.get("faults") or () if f["state"] in ("pending", "applied")]
    if live:
        found.append(f"live faults {live}")
    if journal.get("status") != "running":
        missing = [n for n in ("summary.md", "junit.xml") if not (run_dir / n).exists()]
        if missing:
            found.append(f"no {' '.join(missing)}")
    return found


def _wait_gone(run_dir: Path | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while run_dir is not None and time.monotonic() < deadline:
        journal: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            journal = json.loads((run_dir / "journal.json").read_text())
        dog = journal.get("watchdog")
        dog_alive = isinstance(dog, int) and is_running(dog)
        if not pids_with_env("GAMEDAY_RUN_DIR", str(run_dir)) and not dog_alive:
            return
        time.sleep(0.2)


def one_run(number: int, rng: random.Random, workdir: Path) -> Outcome:
    """Start a run, interrupt it at a random moment, check what is left."""
    sig = rng.choice(SIGNALS)
    at = rng.uniform(0.0, FULL_RUN)
    before = set((workdir / ".gameday" / "runs").glob("*/journal.json"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", "--no-live", str(EXPERIMENT)],
        cwd=workdir, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    start = time.monotonic()
    while process.poll() is None and time.monotonic() - start < at:
        time.sleep(0.01)
    ended = process.poll() is not None
    run_dir, journal = _journal(workdir, before)
    outcome = Outcome(number, sig.name, at, _phase(journal, ended))
    if not ended:
        process.send_signal(sig)
    try:
        outcome.exit_code = process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        outcome.exit_code = process.wait()
        outcome.left_alone.append("did not exit within 90 s of the signal")
    run_dir, _ = _journal(workdir, before)
    if sig == signal.SIGKILL and not ended:
        _wait_gone(run_dir, timeout=15.0)  # its watchdog at work
    else:
        _wait_gone(run_dir, timeout=2.0)  # the watchdog of a clean exit leaves at once
    outcome.left_alone += leftovers(run_dir)
    if sig == signal.SIGKILL and run_dir is not None:
        subprocess.run(
            [sys.executable, "-m", "chaos.cli", "rollback", str(run_dir)],
            cwd=workdir, env=env, capture_output=True, timeout=120,
        )  # fmt: skip
        outcome.left_after_rollback = leftovers(run_dir)
    else:
        outcome.left_after_rollback = list(outcome.left_alone)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="how many runs (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random draws")
    parser.add_argument("--workdir", help="where .gameday/runs goes (default: a temporary dir)")
    args = parser.parse_args()
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started as a background job:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the runs must not inherit it
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gameday-soak-")).resolve()
    print(f"soak: {args.runs} runs of {EXPERIMENT.name}, seed {seed}, in {workdir}", flush=True)
    outcomes: list[Outcome] = []
    for number in range(1, args.runs + 1):
        outcome = one_run(number, rng, workdir)
        outcomes.append(outcome)
        left = "; ".join(outcome.left_alone) or "nothing"
        rolled = "; ".join(outcome.left_after_rollback) or "nothing"
        print(
            f"{number:3d} {outcome.signal:7} at {outcome.at:5.2f}s ({outcome.phase:16}) "
            f"exit {outcome.exit_code}: left {left}"
            + (f"; after rollback: {rolled}" if outcome.signal == "SIGKILL" else ""),
            flush=True,
        )
    alone = [o for o in outcomes if o.left_alone]
    after = [o for o in outcomes if o.left_after_rollback]
    print(f"signals: {dict(Counter(o.signal for o in outcomes))}")
    print(f"moments: {dict(Counter(o.phase for o in outcomes))}")
    print(f"runs that left anything by themselves (no rollback): {len(alone)}/{len(outcomes)}")
    print(f"runs that left anything after `gameday rollback`: {len(after)}/{len(outcomes)}")
    return 1 if alone or after else 0


if __name__ == "__main__":
    sys.exit(main())
