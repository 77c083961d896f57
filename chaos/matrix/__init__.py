"""The fault-isolation matrix: every target x fault kind on one running system, judged."""
