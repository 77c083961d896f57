"""The system under test: the system file, its typed model, targets and the resolved topology."""
