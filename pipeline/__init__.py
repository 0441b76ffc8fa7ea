"""legday: FIT files in, DuckDB out, and a daily recovery report.

The library is Prefect-free and clock-free: functions take files, frames, dates and settings as
arguments and return data. The CLI (``pipeline.cli.main``) and the flows (``flows/``) are the edges.
"""

__version__ = "0.1.0"
