"""Testing a system from pytest: the `gameday` plugin (chaos.testing.plugin), registered
through the `pytest11` entry point, with fixtures for a running system (system), faults held
for a `with` block (fault) and one journey's load and statistics (load).

Nothing is imported here: pytest imports the plugin in every session, and it stays cheap.
"""
