"""Benchmarks of legday (``make bench``): see benchmarks/run.py and docs/performance.md."""
