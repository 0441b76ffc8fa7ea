"""The one function a parser process runs at start: tell the parent its process id.

Kept alone (and ``pipeline.ingest`` imports lazily) so that a parser process imports only this
and the parser, not the store and DuckDB. The parent needs the ids to kill a worker that hangs:
``ProcessPoolExecutor`` has no public way to do it. No I/O beyond the queue.
"""

from __future__ import annotations

import os
from typing import Any


def report_pid(queue: Any) -> None:
    """Pool initializer: put this worker's pid on ``queue`` (a ``multiprocessing.SimpleQueue``)."""
    queue.put(os.getpid())
