"""What runs inside a parser process: report its pid at start, then parse the bytes it is sent.

Kept alone (and ``pipeline.ingest`` imports lazily) so that a parser process imports only this
and ``pipeline.fit``, not the store and DuckDB. The parent needs the pids to kill a worker that
hangs: ``ProcessPoolExecutor`` has no public way to do it. No I/O beyond the pid queue.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from pipeline.fit import ParsedFile, enable_fast_decode, parse_fit


def report_pid(queue: Any) -> None:
    """Pool initializer: put this worker's pid on ``queue`` (a ``multiprocessing.SimpleQueue``)."""
    queue.put(os.getpid())


def parse_bytes(data: bytes, now: datetime | None) -> ParsedFile:
    """Parse bytes the plan read, with fitparse in its fast mode (as ``pipeline.fit.parse_file``)."""
    enable_fast_decode()  # idempotent: a flag test after the first file
    return parse_fit(data, now=now)
