"""Statistical power of the matrix's tests: what a fault window of N seconds can see.

    .venv/bin/python benchmarks/matrix_power.py                    # the latest shop matrix run
    .venv/bin/python benchmarks/matrix_power.py --run .gameday/runs/matrix-shop-... --windows 2,3,5

For each journey it takes the real latencies of a matrix run's first baseline (its rate and
its distribution), then simulates fault windows of each length: every request slower by a
factor, one request in three slower by a fixed delay (a partial failure: one replica of
three), and a share of errors. Each simulated window is judged by the matrix's own code
(`chaos.judgement.statistics.compare`, the tolerances of the shop's `matrix:` section) at
the significance a real run needs: Benjamini-Hochberg over `--comparisons` p-values, for a
single true deviation, means p <= rate / comparisons. Power is the share of simulated
windows judged deviated. The baseline is resampled too, at its own length. For the partial
failure both are printed, side by side: Mann-Whitney alone, and with the tail test.

Pure computation, not a timing: it may run beside other work.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.judgement.statistics import compare  # noqa: E402
from chaos.system.model import load_system  # noqa: E402
from loadtests.samples import new_histogram, record_ms  # noqa: E402
from loadtests.windows import Window, WindowStats, read_run  # noqa: E402

FACTORS = (1.5, 2.0, 3.0)
PARTIAL = (1 / 3, 200.0)  # one request in three, 200 ms slower
ERRORS = (0.1, 0.25, 0.5)


def window_stats(journey: str, latencies: np.ndarray, failed: np.ndarray) -> WindowStats:
    ok, bad = new_histogram(), new_histogram()
    for latency, is_failed in zip(latencies.tolist(), failed.tolist(), strict=True):
        record_ms(bad if is_failed else ok, latency)
    count = len(latencies)
    return WindowStats(
        journey, Window("w", 0.0, 1.0), count, int(failed.sum()), 0, 0, ok, bad
    )


def power(
    rng: np.random.Generator,
    journey: str,
    population: np.ndarray,
    sizes: tuple[int, int],
    change: str,
    amount: float,
    *,
    threshold: float,
    tolerances: tuple[float, float, float],
    runs: int,
) -> float:
    latency_tol, median_tol, error_tol = tolerances
    n_base, n_fault = sizes
    found = 0
    for _ in range(runs):
        base = rng.choice(population, n_base)
        fault = rng.choice(population, n_fault)
        fault_failed = np.zeros(n_fault, dtype=bool)
        if change == "factor":
            fault = fault * amount
        elif change.startswith("partial"):
            fault = fault + np.where(rng.random(n_fault) < PARTIAL[0], amount, 0.0)
        else:
            fault_failed = rng.random(n_fault) < amount
        result = compare(
            window_stats(journey, base, np.zeros(n_base, dtype=bool)),
            window_stats(journey, fault, fault_failed),
        )
        if change == "errors":
            hit = result.errors_deviate(error_tol, alpha=threshold)
        else:
            if change == "partial-location":  # the tail test left out: Mann-Whitney alone
                result = replace(result, tail_p_value=None)
            # unadjusted, so significance is the p-value: held to the threshold BH would set
            hit = result.latency_deviates(latency_tol, alpha=threshold, median_tolerance=median_tol)
        found += bool(hit)
    return found / runs


def latest_run() -> Path:
    runs = sorted((ROOT / ".gameday" / "runs").glob("matrix-shop-*/journal.json"))
    if not runs:
        raise SystemExit(
            "no matrix run of the shop under .gameday/runs; run `gameday matrix "
            "sample_system/system.yaml` once, or pass --run RUN_DIR"
        )
    return runs[-1].parent


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--run", type=Path, help="a matrix run directory (default: the latest)")
    parser.add_argument("--system", default="sample_system/system.yaml", help="its system file")
    parser.add_argument("--windows", default="2,3,5", help="fault window lengths, seconds")
    parser.add_argument("--comparisons", type=int, default=350, help="p-values of one run")
    parser.add_argument("--runs", type=int, default=300, help="simulated windows per figure")
    args = parser.parse_args()
    run_dir = args.run or latest_run()
    if not (run_dir / "journal.json").is_file():
        parser.error(f"--run {run_dir}: no journal.json there; pass a matrix run directory")
    try:
        windows = [int(w) for w in args.windows.split(",")]
    except ValueError:
        parser.error(f"--windows {args.windows!r}: whole seconds separated by commas, e.g. 2,3,5")

    journal = json.loads((run_dir / "journal.json").read_text())
    spec = load_system(args.system)
    settings = spec.matrix
    threshold = settings.false_discovery_rate / args.comparisons
    tolerances = (settings.latency_tolerance, settings.median_tolerance, settings.error_tolerance)
    baseline = Window("baseline", *journal["windows"]["baseline"])
    samples = read_run(run_dir / "load")
    rng = np.random.default_rng(7)
    print(f"run {run_dir}; baseline {baseline.seconds} s; significance p <= {threshold:.1e}")
    header = (
        f"{'journey':9} {'rate/s':>6} {'p50 ms':>6} {'window':>6} "
        + " ".join(f"{'x' + format(f, 'g'):>5}" for f in FACTORS)
        + f" {'1/3+200ms: MW':>13} {'+tail':>5} "
        + " ".join(f"{'err ' + format(e, '.0%'):>7}" for e in ERRORS)
    )
    print(header)
    for journey in spec.journeys:
        stats = samples.stats(journey, baseline)
        population = np.array(
            [v for v, n in stats.value_counts("ok") for _ in range(n)], dtype=np.float64
        )
        if len(population) < 10:
            print(f"{journey:9} too few requests in the baseline to simulate")
            continue
        rate = stats.count / baseline.seconds
        for window in windows:
            sizes = (stats.count, max(1, round(rate * window)))
            common = {"threshold": threshold, "tolerances": tolerances, "runs": args.runs}
            cells = [power(rng, journey, population, sizes, "factor", f, **common) for f in FACTORS]
            for change in ("partial-location", "partial"):
                cells.append(power(rng, journey, population, sizes, change, PARTIAL[1], **common))
            cells += [power(rng, journey, population, sizes, "errors", e, **common) for e in ERRORS]
            print(
                f"{journey:9} {rate:6.1f} {stats.percentile_ms(50) or 0:6.0f} {window:5d}s "
                + " ".join(f"{c:5.2f}" for c in cells[: len(FACTORS)])
                + f" {cells[len(FACTORS)]:13.2f} {cells[len(FACTORS) + 1]:5.2f} "
                + " ".join(f"{c:7.2f}" for c in cells[len(FACTORS) + 2 :])
            )
    print(
        "power: share of simulated fault windows judged deviated (latency: Mann-Whitney and "
        "the tolerances; errors: Fisher and error_tolerance). An unaffected journey is also "
        "held to its SLO in the window, which catches large error rates on its own."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
