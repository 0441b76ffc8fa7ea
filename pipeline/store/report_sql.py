"""The report package's statements: flags of a span, the files to look at, kept reports. I/O.

Each function takes an open ``Store`` (``db.open_store``); the caller chooses read-only or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import polars as pl

from pipeline.store.db import Store


def flags_between(store: Store, athlete_id: str, start: datetime, end: datetime) -> pl.DataFrame:
    """The ``recovery_flags`` rows of runs that started in ``[start, end)``, in start order."""
    return store.frame(
        "SELECT * FROM recovery_flags WHERE athlete_id = ? AND run_start_utc >= ? "
        "AND run_start_utc < ? ORDER BY run_start_utc",
        [athlete_id, start, end],
    )


def flag_severities(store: Store, athlete_id: str) -> list[tuple[datetime, str]]:
    """(run start, severity) of every flag of the athlete."""
    return [
        (ts, sev)
        for ts, sev in store.rows(
            "SELECT run_start_utc, severity FROM recovery_flags WHERE athlete_id = ?", [athlete_id]
        )
    ]


def latest_activity_start(store: Store, athlete_id: str) -> datetime | None:
    """Start of the athlete's latest activity with a plausible time, or None."""
    last: datetime | None = store.scalar(
        "SELECT max(start_utc) FROM activities WHERE athlete_id = ? AND time_plausible",
        [athlete_id],
    )
    return last


def files_to_look_at(store: Store, athlete_id: str, since: datetime) -> list[dict[str, Any]]:
    """Quarantined and partial files first seen since ``since``, with where each was seen last.

    Each row: ``file, status, reason_code, message, seen_utc, location`` (the report's JSON
    carries it as it is).
    """
    rows = store.rows(
        "SELECT f.original_name, f.status, f.reason_code, f.message, f.first_seen_utc, "
        "(SELECT arg_max(s.path, s.seen_utc) FROM file_sightings s "
        " WHERE s.athlete_id = f.athlete_id AND s.sha256 = f.sha256) "
        "FROM files f WHERE f.athlete_id = ? AND f.status IN ('quarantined', 'partial') "
        "AND f.first_seen_utc >= ? ORDER BY f.first_seen_utc, f.original_name",
        [athlete_id, since],
    )
    keys = ("file", "status", "reason_code", "message", "seen_utc", "location")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def save_report(
    store: Store,
    athlete_id: str,
    day: date,
    rendered: Mapping[str, str],
    *,
    schema_version: str,
    generated_at: datetime,
) -> None:
    """Keep a rendered report in ``reports``, one row per format, in one transaction."""
    with store.transaction():
        for fmt, content in rendered.items():
            store.rows(
                "INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                [athlete_id, day, fmt, schema_version, content, generated_at],
            )
