"""Time to detect and alert isolation, per fault, on the shop with the runtime's Prometheus.

    flock /tmp/gameday-heavy.lock .venv/bin/python benchmarks/alert_detection.py

One system (sample_system/system.yaml, game-day profile), the shop's open-model load, and for
each fault: a quiet baseline, injection, then polling /api/v1/alerts every 0.25 s until the
first alert fires (time to detect) and for `WATCH_S` more; then the fault is removed and the
alerts must clear before the next. Isolation: the first alert names the faulted service or
edge; journey alerts only for journeys the system file's expectations (or the experiment's
hypothesis, for payments slow) allow to degrade. Prints a markdown table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from tempfile import mkdtemp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.experiment.model import Fault  # noqa: E402
from chaos.faults.actions import Injector, plan_fault  # noqa: E402
from chaos.runtime import start_system  # noqa: E402
from chaos.system.target import parse_target  # noqa: E402
from dashboards.check import api, firing  # noqa: E402
from loadtests.runner import LoadProcess, LoadSpec  # noqa: E402

WATCH_S = 25.0
GOAL_S = 30.0
# fault, target, kind, attributes, names (service the alerts must name), degraded journeys
FAULTS = [
    ("payments down", "payments", "down", {}, "payments", {"checkout"}),
    ("payments slow (1.5 s)", "payments", "latency", {"latency": 1500}, "payments", {"checkout"}),
    ("reviews down", "reviews", "down", {}, "reviews", {"reviews"}),
    ("one payments replica killed", "payments/0", "kill", {}, "payments", set()),
    ("NATS down", "nats", "down", {}, "nats", set()),
]


def names(alert: dict[str, str], service: str) -> bool:
    return service in (alert.get("callee"), alert.get("service"))


def wait_quiet(prometheus: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not firing(prometheus):
            return
        time.sleep(0.5)
    print(f"warning: alerts still firing after {timeout}s: {firing(prometheus)}", file=sys.stderr)


def main() -> int:
    run_dir = Path(mkdtemp(prefix="alert-detection-"))
    rows = []
    with start_system(
        ROOT / "sample_system" / "system.yaml", run_dir=run_dir, prometheus=True
    ) as system:
        assert system.prometheus_url is not None
        prometheus = system.prometheus_url
        injector = Injector(system.toxiproxy, system)
        spec = LoadSpec(
            locustfile=ROOT / "loadtests" / "locustfile.py",
            host=system.url("gateway"),
            run_dir=run_dir / "load",
            users=4,
            env={"SHOP_LOAD_MODEL": "open", "GAMEDAY_RUN_DIR": str(run_dir)},
        )
        with LoadProcess.start(spec):
            while (
                len(
                    api(prometheus, "/api/v1/query", query="journey:sli_error:ratio_rate5m")[
                        "result"
                    ]
                )
                < 4
            ):
                time.sleep(0.5)
            for title, target, kind, attributes, service, degraded in FAULTS:
                wait_quiet(prometheus)
                time.sleep(5)
                fault = Fault(name="bench", target=parse_target(target), kind=kind,
                              attributes=attributes)  # fmt: skip
                actions = [injector.apply(a) for a in plan_fault(fault, system.topology)]
                injected = time.time()
                # A ticket alert of the previous fault may still be firing (its 3-minute
                # window): only alerts that were not firing at injection count.
                before = {tuple(sorted(a.items())) for a in firing(prometheus)}
                first: dict[str, str] | None = None
                detected = None
                seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
                while time.time() - injected < (detected or GOAL_S * 2) + (
                    WATCH_S if detected else 0
                ):
                    for alert in firing(prometheus):
                        if tuple(sorted(alert.items())) in before:
                            continue
                        seen.setdefault(tuple(sorted(alert.items())), alert)
                        if first is None:
                            first, detected = alert, time.time() - injected
                    time.sleep(0.25)
                for action in reversed(actions):
                    injector.undo(action)
                journeys = {a["journey"] for a in seen.values() if "journey" in a}
                causes = sorted({
                    f"{a['alertname']}{{{a.get('caller', a.get('service', ''))}"
                    f"{'->' + a['callee'] if 'callee' in a else ''}}}"
                    for a in seen.values() if "journey" not in a
                })  # fmt: skip
                isolated = (
                    first is not None
                    and (names(first, service) or first.get("journey") in degraded)
                    and journeys <= degraded
                )  # fmt: skip
                rows.append((title, first, detected, journeys, causes, isolated))
                print(f"{title}: {first and first['alertname']} after {detected}", flush=True)
    print()
    print("| fault | first alert | seconds to detect | journey alerts | cause alerts | isolated |")
    print("|---|---|---|---|---|---|")
    for title, first, detected, journeys, causes, isolated in rows:
        name = "none" if first is None else first["alertname"] + " " + ", ".join(
            f"{k}={v}" for k, v in sorted(first.items()) if k in ("caller", "callee", "service", "replica", "journey")  # noqa: E501
        )  # fmt: skip
        seconds = "not detected" if detected is None else f"{detected:.1f}"
        print(f"| {title} | {name} | {seconds} | {', '.join(sorted(journeys)) or 'none'} | "
              f"{'; '.join(causes)} | {'yes' if isolated else 'NO'} |")  # fmt: skip
    return 0 if all(r[2] is not None and r[2] <= GOAL_S and r[5] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
