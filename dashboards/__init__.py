"""The shop's dashboards, recording rules and alerts as code (`python -m dashboards`)."""
