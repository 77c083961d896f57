"""Experiments: the model and its file, the runner, attaching to a running system, invariants."""
