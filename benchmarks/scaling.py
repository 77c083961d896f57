"""Per-service scaling of the shop, measured side by side in one run (docs/scaling.md).

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/scaling.py [--step 10]

1. payments 1 -> 2 -> 3 replicas, capacity of checkout (gameday scale): efficiency
   C(N) / (N x C(1)); goal >= 0.90. Payments' processor has one line per replica that sleeps
   60-120 ms per charge (no CPU), so each replica adds ~11 charges/s of capacity; what
   limits it on 2 cores is the CPU of everything else (orders' four calls per checkout, the
   gateway, the Locust process on the same cores), which the attribution's machine CPU shows.
2. catalog 1 -> 2 on checkout: capacity ratio ~1.0 and "no gain" judged statistically.
3. the shopping-season experiment: seconds from the spike's start to payments' first
   scale-out and until checkout is within its SLO every second after.
4. wall time of each `gameday scale` run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.experiment.file import load_experiment  # noqa: E402
from chaos.experiment.runner import run_experiment  # noqa: E402
from chaos.scale.run import ScaleOptions, run_scale  # noqa: E402
from chaos.scale.season import scale_changes, within_slo_from  # noqa: E402
from chaos.system.model import load_system  # noqa: E402
from loadtests.windows import read_run  # noqa: E402

SYSTEM = ROOT / "sample_system" / "system.yaml"


def scale(service: str, counts: tuple[int, ...], step: float, out: Path) -> dict[str, object]:
    began = time.monotonic()
    result = run_scale(
        ScaleOptions(
            system=SYSTEM,
            service=service,
            journey="checkout",
            replicas=counts,
            step_seconds=step,
            run_dir=out / f"scale-{service}",
        )
    )
    journal = dict(result.journal)
    journal["wall"] = time.monotonic() - began
    print(result.summary, flush=True)
    return journal


def season(out: Path) -> dict[str, float | None]:
    """The shopping season once: when payments scaled out, when checkout was back in SLO."""
    began = time.monotonic()
    experiment = load_experiment(ROOT / "sample_system" / "experiments" / "shopping-season.yaml")
    result = run_experiment(experiment, run_dir=out / "season")
    journal = json.loads((result.run_dir / "journal.json").read_text())
    (spike, spike_end), (_, end) = journal["windows"]["fault"], journal["windows"]["recovery"]
    outs = [
        c for c in scale_changes(result.run_dir) if c.service == "payments" and c.after > c.before
    ]
    spec = load_system(SYSTEM)
    assert spec.slo is not None
    samples = read_run(result.run_dir / "load")
    print(f"season: exit {result.exit_code}; autoscaling {journal.get('autoscaling')}", flush=True)
    return {
        "scale_out_s": outs[0].time - spike if outs else None,
        "replicas_after_scale_out": float(outs[0].after) if outs else None,
        "checkout_within_slo_s": within_slo_from(
            spec.slo, samples, "checkout", spike, spike_end, end
        ),
        "exit_code": float(result.exit_code),
        "wall_s": time.monotonic() - began,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / ".gameday" / "bench-scaling")
    args = parser.parse_args()
    out = args.out / time.strftime("%Y%m%dT%H%M%S")
    payments = scale("payments", (1, 2, 3), args.step, out)
    catalog = scale("catalog", (1, 2), args.step, out)
    timing = season(out)
    print("\n== scaling benchmark (one run, 2 cores)")
    for row in payments["counts"]:  # type: ignore[attr-defined]
        print(
            f"payments x{row['replicas']}: checkout capacity {row['capacity']:.2f}/s, "
            f"efficiency {row['efficiency']:.2f}"
        )
    for gain in payments["gains"]:  # type: ignore[attr-defined]
        print(f"payments {gain['replicas']} vs 1: {gain['verdict']}")
    for gain in catalog["gains"]:  # type: ignore[attr-defined]
        print(
            f"catalog {gain['replicas']} vs 1: capacity x{gain['capacity_ratio']:.2f}, "
            f"{gain['verdict']}"
        )
    print(
        f"season: payments scaled out {timing['scale_out_s']} s after the spike started; "
        f"checkout within SLO from +{timing['checkout_within_slo_s']} s"
    )
    print(f"wall: payments scale {payments['wall']:.0f} s, catalog scale {catalog['wall']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
