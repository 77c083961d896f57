"""`gameday proxy`: run the embedded Toxiproxy-compatible server.

Prints one line when ready (`gameday proxy listening on 127.0.0.1:8474`), logs to stderr
(`LOG_LEVEL` sets the level) and exits 0 on SIGTERM or SIGINT after closing every proxy.
Takes toxiproxy-server's own flags as it spells them (Go's flag package: `-host`, `-port 8474`,
`-config=FILE`, `-proxy-metrics`, `-proxy-metrics=false`, ...) as well as `--host` etc., so a
script written for toxiproxy-server runs this one unchanged.
Only argparse is imported here; the server is imported inside `run`.
"""

from __future__ import annotations

import argparse

HELP = "run the embedded Toxiproxy-compatible fault proxy (API on 127.0.0.1:8474)"
VERSION = "2.12.0"  # the Toxiproxy version whose API and behaviour this server follows


def go_bool(text: str) -> bool:
    """A boolean as Go's strconv.ParseBool reads it (`-proxy-metrics=false`)."""
    value = text.lower() if text in ("TRUE", "True", "FALSE", "False") else text
    if value in ("1", "t", "true", "T"):
        return True
    if value in ("0", "f", "false", "F"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}: use true or false")


def _flag(parser: argparse.ArgumentParser, name: str, **options: object) -> None:
    """`--name` and Go's `-name`; a boolean also takes `=true`/`=false`, as in Go."""
    if options.pop("boolean", False):
        options.update(nargs="?", const=True, default=False, type=go_bool, metavar="BOOL")
    parser.add_argument(f"--{name}", f"-{name}", **options)  # type: ignore[arg-type]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday proxy` (toxiproxy-server's flags, plus --allow-remote)."""
    _flag(
        parser, "host", default="127.0.0.1", help="API address (default 127.0.0.1; loopback only)"
    )
    _flag(parser, "port", type=int, default=8474, help="API port, 0 for a free one (default 8474)")
    _flag(parser, "config", metavar="FILE", help="JSON array of proxies to create at start")
    _flag(
        parser,
        "allow-remote",
        boolean=True,
        help="allow a non-loopback --host and proxy listen addresses (reachable from elsewhere)",
    )
    _flag(parser, "proxy-metrics", boolean=True, help="serve /metrics with per-proxy byte counters")
    _flag(parser, "runtime-metrics", boolean=True, help="serve /metrics with process metrics")
    _flag(
        parser, "seed", type=int, default=None, help="seed for toxicity, jitter and slicing draws"
    )
    _flag(parser, "no-uvloop", boolean=True, help="use asyncio's default event loop")
    _flag(parser, "version", boolean=True, help="print the version and exit")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 0 on a clean stop."""
    if args.version:
        print(f"toxiproxy-server version {VERSION} (gameday proxy)")
        return 0
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
