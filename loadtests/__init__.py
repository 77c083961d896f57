"""Locust journeys, load shapes, an open-model user and SLO thresholds."""
