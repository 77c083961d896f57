"""`gameday scale`: change a running system's replica counts, or measure capacity per count.

    gameday scale payments=3                          # the `gameday up` running here
    gameday scale payments=3,orders=2
    gameday scale sample_system/system.yaml --service payments --journey checkout \\
        --replicas 1,2,3                              # capacity knee per count, USL fit

The first form talks to the running supervisor's control endpoint (its URL is in
.gameday/current.json). The second starts the system, finds the capacity of the journey at
each replica count of the service and writes journal.json, summary.md and report.html
(docs/scaling.md).
"""

from __future__ import annotations

import argparse

HELP = "scale a running system (SERVICE=N), or measure capacity per replica count"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday scale`."""
    parser.add_argument(
        "target",
        nargs="+",
        metavar="SERVICE=N | SYSTEM_FILE",
        help="SERVICE=N (repeatable, or a=2,b=3) to scale the running system; or a system file",
    )
    parser.add_argument("--service", help="capacity search: the service to scale")
    parser.add_argument("--journey", help="capacity search: the journey whose capacity counts")
    parser.add_argument(
        "--replicas", default="1,2,3", metavar="N,N,...", help="replica counts (default 1,2,3)"
    )
    parser.add_argument(
        "--start-rate",
        type=float,
        default=None,
        metavar="R",
        help="first arrival rate per second (default: from the last count)",
    )
    parser.add_argument(
        "--step",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds each rate is judged over (default 10)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="stop bisecting within this fraction (default 0.05)",
    )
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="skip the fixed-rate probe that judges gain statistically",
    )
    parser.add_argument("--run-dir", metavar="DIR", help="where outputs go")
    parser.add_argument("--state-file", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Dispatch on the form of the first argument."""
    if all("=" in t for t in args.target):
        return _scale_running(args)
    if len(args.target) != 1:
        from chaos.errors import ConfigInvalid

        raise ConfigInvalid(
            f"give one system file, or SERVICE=N pairs; got {' '.join(args.target)}"
        )
    from pathlib import Path

    from chaos.errors import ConfigInvalid
    from chaos.scale.run import ScaleOptions, run_scale

    if not args.service or not args.journey:
        raise ConfigInvalid(
            "a capacity search needs --service and --journey, e.g. gameday scale "
            "sample_system/system.yaml --service payments --journey checkout"
        )
    try:
        counts = sorted({int(v) for v in args.replicas.split(",") if v.strip()})
    except ValueError:
        raise ConfigInvalid(f"--replicas {args.replicas!r}: write counts like 1,2,3") from None
    if not counts or counts[0] < 1:
        raise ConfigInvalid(f"--replicas {args.replicas!r}: counts must be >= 1, e.g. 1,2,3")
    options = ScaleOptions(
        system=Path(args.target[0]),
        service=args.service,
        journey=args.journey,
        replicas=tuple(counts),
        start_rate=args.start_rate,
        step_seconds=args.step,
        tolerance=args.tolerance,
        probe=not args.no_probe,
        run_dir=Path(args.run_dir) if args.run_dir else None,
    )
    result = run_scale(options)
    print(result.summary)
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


def _scale_running(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.request
    from pathlib import Path

    from chaos.cli.up import parse_replicas
    from chaos.errors import RuntimeFailure
    from chaos.runtime.state import STATE_FILE, read_state, supervisor_alive

    state_file = Path(args.state_file or STATE_FILE)
    state = read_state(state_file)
    if state is None or not supervisor_alive(state):
        raise RuntimeFailure(
            f"no running system here ({state_file}); start one with `gameday up`, or give a "
            "system file to measure capacity"
        )
    control = state.get("control")
    if not control:
        raise RuntimeFailure("the running supervisor has no control endpoint; restart it")
    for service, count in parse_replicas(args.target).items():
        body = json.dumps({"service": service, "replicas": count}).encode()
        request = urllib.request.Request(
            f"{control}/v1/scale", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            problem = json.loads(exc.read() or b"{}")
            raise RuntimeFailure(
                f"scaling {service} to {count}: {problem.get('message', exc)}"
            ) from None
        print(
            f"{service}: {answer['before']} -> {answer['replicas']} replicas "
            f"in {answer['seconds']:.1f}s"
        )
    return 0
