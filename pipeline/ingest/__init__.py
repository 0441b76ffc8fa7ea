"""Ingest: paths in, an outcome for every file and rows in the store out.

The public API is ``ingest_paths`` (the one composition root, see ``run.py``) and the types of
its answer. Modules, in the order of a run: ``collect`` (which files), ``plan`` (read and hash
once, skip known bytes), ``workers`` (the parser pool), ``decide`` + ``writer`` (the single
writer), ``archives`` + ``unpack`` (zip exports), ``outcomes`` (status and reason enums).

Names are imported lazily (PEP 562) so that a parser process, which imports
``pipeline.ingest.in_worker``, does not import the store and DuckDB with this package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.ingest.collect import collect_files
    from pipeline.ingest.outcomes import FileOutcome, FileStatus, IngestReason, IngestSummary
    from pipeline.ingest.run import ingest_files, ingest_paths
    from pipeline.ingest.unpack import unpack_workspace
    from pipeline.ingest.workers import Parser, ParseResult, default_workers

_WHERE = {
    "collect_files": "collect",
    "FileOutcome": "outcomes",
    "FileStatus": "outcomes",
    "IngestReason": "outcomes",
    "IngestSummary": "outcomes",
    "ingest_files": "run",
    "ingest_paths": "run",
    "unpack_workspace": "unpack",
    "Parser": "workers",
    "ParseResult": "workers",
    "default_workers": "workers",
}

__all__ = [
    "FileOutcome",
    "FileStatus",
    "IngestReason",
    "IngestSummary",
    "ParseResult",
    "Parser",
    "collect_files",
    "default_workers",
    "ingest_files",
    "ingest_paths",
    "unpack_workspace",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.ingest' has no attribute {name!r}")
    return getattr(import_module(f"pipeline.ingest.{module}"), name)
