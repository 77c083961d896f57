"""Faults: the undoable actions they become, the journal that records them, rollback."""
