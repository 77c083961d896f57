"""Drop-in OpenTelemetry tracing, Prometheus RED metrics and trace-correlated logs for FastAPI."""
