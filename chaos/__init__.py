"""Fault injection, experiments, the local runtime and the `gameday` CLI."""
