"""Sub-commands of the `gameday` CLI that drive the local runtime (up, down, status)."""
