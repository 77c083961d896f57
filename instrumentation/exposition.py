"""The `/metrics` endpoint: content negotiation, and aggregation across worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (uvicorn --workers, gunicorn), every worker writes its
samples to files in that directory and any worker's `/metrics` serves the sum over all of
them. prometheus-client does not keep exemplars in that mode; single-process keeps them.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

METRICS_PATH = "/metrics"


def multiprocess_dir() -> str | None:
    """The multi-process directory prometheus-client uses, when one is configured."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112


def render(registry: CollectorRegistry | None, accept: str) -> tuple[bytes, str]:
    """Exposition bytes and content type for an `Accept` header (OpenMetrics when asked)."""
    directory = multiprocess_dir()
    if directory is not None and (registry is None or registry is REGISTRY):
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    encoder, content_type = choose_encoder(accept)
    return encoder(REGISTRY if registry is None else registry), content_type
