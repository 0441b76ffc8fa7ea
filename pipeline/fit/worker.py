"""The job of a parser process: read, hash and parse one file (file I/O, no store).

A parser process imports this module, not the store or DuckDB, and its first parse switches
fitparse to the fast mode (``decode.enable_fast_decode``): explicit, once per process, and only
in a process whose fitparse use is ours. ``pipeline.ingest`` preloads this module in its fork
server and submits ``parse_file`` to the workers; the Dask backfill calls it on the cluster.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from pipeline.fit.decode import enable_fast_decode
from pipeline.fit.parse import parse_fit
from pipeline.fit.schemas import ParsedFile

__all__ = ["parse_file", "read_file"]


def read_file(path: Path) -> tuple[bytes | None, str | None]:
    """The bytes of a file, or why they could not be read."""
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}; check its permissions"


def parse_file(
    path: str, now: datetime | None
) -> tuple[str | None, int, ParsedFile | None, str | None]:
    """Read, hash and parse one file. Returns ``(sha256, size, parsed, read_error)``.

    ``now`` (tz-aware UTC) flags sessions dated in the future (see ``parse_fit``).
    """
    enable_fast_decode()  # idempotent: a flag test after the first file
    data, err = read_file(Path(path))
    if data is None:
        return None, 0, None, err
    return hashlib.sha256(data).hexdigest(), len(data), parse_fit(data, now=now), None
