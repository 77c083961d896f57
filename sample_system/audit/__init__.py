"""The audit: checks the shop's invariants across services (`python -m sample_system.audit`)."""
