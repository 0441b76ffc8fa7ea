"""Prefect flows: thin wiring around the ``pipeline`` library."""
