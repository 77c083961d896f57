"""Faults: the undoable actions they become, the journal that records them, rollback, and
hostile input (bad requests at the entry point rather than a broken part)."""
