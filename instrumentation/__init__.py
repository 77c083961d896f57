"""Drop-in OpenTelemetry tracing, Prometheus RED metrics and trace-correlated logs for FastAPI.

from instrumentation import instrument
instrument(app)
"""

from instrumentation.client import MetricsTransport, SyncMetricsTransport, dependency_client
from instrumentation.health import ReadinessCheck
from instrumentation.instrument import Instrumentation, instrument, uninstrument
from instrumentation.resilience import ResilienceMetrics, resilience_metrics

__all__ = [
    "Instrumentation",
    "MetricsTransport",
    "ReadinessCheck",
    "ResilienceMetrics",
    "SyncMetricsTransport",
    "dependency_client",
    "instrument",
    "resilience_metrics",
    "uninstrument",
]
