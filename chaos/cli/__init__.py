"""The `gameday` command line: `main` dispatches to one module per sub-command."""
