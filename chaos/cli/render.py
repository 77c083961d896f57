"""`gameday render KIND SYSTEM_FILE -o DIR`: the same system file, rendered for another runtime.

    gameday render compose sample_system/system.yaml -o .            # docker-compose.yml & co.
    gameday render k8s sample_system/system.yaml -o deploy/k8s        # Kubernetes manifests

Each kind is a module `chaos.render.<kind>` with `render(spec, out_dir) -> list[Path]`
(pure apart from writing the files it returns).
"""

from __future__ import annotations

import argparse

HELP = "render a system file as a Docker Compose stack or Kubernetes manifests"

# kind -> module; each module exposes render(spec: SystemSpec, out_dir: Path) -> list[Path]
RENDERERS: dict[str, str] = {"compose": "chaos.render.compose", "k8s": "chaos.render.k8s"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gameday render`."""
    parser.add_argument("kind", choices=sorted(RENDERERS), help="what to render")
    parser.add_argument("system", help="system file, e.g. sample_system/system.yaml")
    parser.add_argument("-o", "--output", default=".", metavar="DIR", help="output directory")


def run(args: argparse.Namespace) -> int:
    """0 when every file was written."""
    import importlib
    from pathlib import Path

    from chaos.errors import GamedayError
    from chaos.system.model import load_system

    spec = load_system(args.system)
    try:
        module = importlib.import_module(RENDERERS[args.kind])
    except ModuleNotFoundError as exc:
        raise GamedayError(f"render {args.kind!r} is not available in this gameday") from exc
    written: list[Path] = module.render(spec, Path(args.output))
    for path in written:
        print(f"wrote {path}")
    return 0
