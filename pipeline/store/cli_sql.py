"""The statements behind ``legday status``: what the store holds, as a typed answer.

The command line shows it; the SQL stays here, beside the connection (``pipeline.store.db``).
I/O: reads the store through the ``Store`` it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.store.db import Store

#: The relations whose row counts ``legday status`` shows, in this order.
STATUS_RELATIONS = ("files", "activities", "laps", "hr_samples", "strength_sets", "workout_steps")
#: How many of the latest partial or quarantined files ``legday status`` lists.
RECENT_FLAGGED = 20


@dataclass(frozen=True)
class FlaggedFile:
    """A file stored partly or quarantined, with the reason a person can act on."""

    status: str
    reason_code: str | None
    original_name: str | None
    message: str | None


@dataclass(frozen=True)
class ActivitySpan:
    athlete_id: str
    first_utc: datetime
    last_utc: datetime
    activities: int


@dataclass(frozen=True)
class StoreStatus:
    """Everything ``legday status`` prints."""

    schema_version: int
    files_by_status: list[tuple[str, str, int]]  # athlete, status, files
    relations: dict[str, int]  # relation -> rows
    activity_spans: list[ActivitySpan]
    recent_flagged: list[FlaggedFile]  # newest first


def store_status(store: Store) -> StoreStatus:
    """Files by athlete and outcome, rows per relation, activity spans, latest flagged files."""
    by_status = store.rows(
        "SELECT athlete_id, status, count(*) FROM files GROUP BY ALL ORDER BY ALL"
    )
    relations = {t: int(store.scalar(f"SELECT count(*) FROM {t}")) for t in STATUS_RELATIONS}
    spans = store.rows(
        "SELECT athlete_id, min(start_utc), max(start_utc), count(*) FROM activities "
        "GROUP BY ALL ORDER BY ALL"
    )
    flagged = store.rows(
        "SELECT status, reason_code, original_name, message FROM files "
        "WHERE status IN ('quarantined', 'partial') ORDER BY first_seen_utc DESC LIMIT ?",
        [RECENT_FLAGGED],
    )
    return StoreStatus(
        schema_version=store.schema_version(),
        files_by_status=[(a, s, int(n)) for a, s, n in by_status],
        relations=relations,
        activity_spans=[ActivitySpan(a, first, last, int(n)) for a, first, last, n in spans],
        recent_flagged=[FlaggedFile(*row) for row in flagged],
    )
