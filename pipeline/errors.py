"""The error tree of legday: every error the library raises on purpose.

    LegdayError                      base; ``retryable`` says whether trying again can help
    ├── ConfigError                  bad or missing settings (terminal)
    ├── StorageError                 the DuckDB store
    │   ├── StoreBusy                another process holds the file; waiting helps (transient)
    │   ├── SchemaError              the file's schema is newer than this code (terminal)
    │   └── StoreUnavailable         cannot create or write the file: permissions, full disk
    ├── ReadOnlyQueryError           ``legday query`` was asked to change something (terminal)
    ├── InboxError                   the watched folder: unreadable, unwritable, not a folder
    ├── ReportError                  a report cannot be built (no such athlete, bad date)
    ├── ExportFormatError            an export file is not what it was handed in as; carries
    │                                ``reason_code`` (``pipeline.exports.types``)
    └── PlanFileError                a plan file (calendar, workout, schedule) cannot be read
                                     (``pipeline.plans.model``)

A FIT file that cannot be decoded is not an error here: it is an outcome (quarantined or partial,
with a reason code) that ingest records and carries on. ``tests/test_layering.py`` checks that
this drawing names every subclass of ``LegdayError`` and nothing else.

Flows pass ``retry_condition_fn=is_retryable`` so Prefect retries only what can succeed later.
"""

from __future__ import annotations


class LegdayError(Exception):
    """Base of every error legday raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class ConfigError(LegdayError):
    """Settings are missing, malformed or contradictory."""


class StorageError(LegdayError):
    """Something went wrong in the DuckDB store."""


class StoreBusy(StorageError):
    """Another process holds the DuckDB file; waiting and retrying can help."""

    retryable = True


class SchemaError(StorageError):
    """The store was written by a newer legday, or its migrations are inconsistent."""


class StoreUnavailable(StorageError):
    """The store cannot be created or written: permissions, a full disk, a missing folder."""


class ReadOnlyQueryError(LegdayError):
    """A read-only query tried to write to the store or the disk."""


class InboxError(LegdayError):
    """The inbox cannot be watched or its files cannot be moved."""


class ReportError(LegdayError):
    """A report cannot be built for the requested athlete and date."""


def is_retryable(exc: BaseException) -> bool:
    """True when trying again may succeed (used as Prefect's retry condition)."""
    return isinstance(exc, LegdayError) and exc.retryable
