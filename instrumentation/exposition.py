"""The `/metrics` endpoint: content negotiation, and aggregation across worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (uvicorn --workers, gunicorn), every worker writes its
samples to files in that directory and any worker's `/metrics` serves the sum over all of
them, with the newest exemplar of each bucket over all workers (`exemplars.py`).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from instrumentation.exemplars import ExemplarsAcrossProcesses
from instrumentation.metrics import HISTOGRAM_LABELS, multiprocess_dir

METRICS_PATH = "/metrics"


def render(registry: CollectorRegistry | None, accept: str) -> tuple[bytes, str]:
    """Exposition bytes and content type for an `Accept` header (OpenMetrics when asked)."""
    directory = multiprocess_dir()
    if directory is not None and (registry is None or registry is REGISTRY):
        registry = CollectorRegistry()
        summed = MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]
        registry.register(ExemplarsAcrossProcesses(summed, directory, HISTOGRAM_LABELS))
    encoder, content_type = choose_encoder(accept)
    return encoder(REGISTRY if registry is None else registry), content_type
