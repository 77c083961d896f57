"""`gameday proxy`: run the embedded Toxiproxy-compatible server.

Prints one line when ready (`gameday proxy listening on 127.0.0.1:8474`), logs to stderr
(`LOG_LEVEL` sets the level) and exits 0 on SIGTERM or SIGINT after closing every proxy.
Only argparse is imported here; the server is imported inside `run`.
"""

from __future__ import annotations

import argparse

HELP = "run the embedded Toxiproxy-compatible fault proxy (API on 127.0.0.1:8474)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday proxy` (Toxiproxy's server flags, plus --allow-remote)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="API address (default 127.0.0.1; loopback only)"
    )
    parser.add_argument(
        "--port", type=int, default=8474, help="API port, 0 for a free one (default 8474)"
    )
    parser.add_argument("--config", metavar="FILE", help="JSON array of proxies to create at start")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host and proxy listen addresses (reachable from elsewhere)",
    )
    parser.add_argument(
        "--proxy-metrics", action="store_true", help="serve /metrics with per-proxy byte counters"
    )
    parser.add_argument(
        "--runtime-metrics", action="store_true", help="serve /metrics with process metrics"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for toxicity, jitter and slicing draws"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default event loop")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 0 on a clean stop."""
    from chaos.proxy.launch import run_foreground

    return run_foreground(
        host=args.host,
        port=args.port,
        config=args.config,
        allow_remote=args.allow_remote,
        proxy_metrics=args.proxy_metrics,
        runtime_metrics=args.runtime_metrics,
        seed=args.seed,
        use_uvloop=not args.no_uvloop,
    )
