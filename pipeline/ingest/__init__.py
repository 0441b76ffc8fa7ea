"""Ingest: paths in, an outcome for every file and rows in the store out."""
