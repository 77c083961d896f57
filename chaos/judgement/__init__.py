"""Judgement: SLO thresholds and baseline-vs-fault statistics turned into verdicts (pure)."""
