"""Every SQL statement of ingest and the inbox: which bytes and recordings the store holds,
the ``files`` rows and sightings the single writer adds, and supersession of a partial copy.

I/O: reads and writes the store through a ``Store`` the caller opened (``pipeline.store.db``
keeps the connection, the lock and the transaction); nothing here opens or commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from pipeline.store.db import Store

_ACTIVITY_TABLES = ("activities", "laps", "hr_samples", "hr_spans", "strength_sets")


def known_files(store: Store, athlete_id: str, hashes: Sequence[str]) -> dict[str, tuple[str, str]]:
    """sha256 -> (status, original_name) for the hashes the store already has for an athlete."""
    if not hashes:
        return {}
    rows = store.rows(
        "SELECT sha256, status, original_name FROM files WHERE athlete_id = ? AND sha256 IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [athlete_id, list(hashes)],
    )
    return {sha: (status, name) for sha, status, name in rows}


def files_with_identities(
    store: Store, athlete_id: str, identities: Sequence[str]
) -> dict[str, list[tuple[str, str, str]]]:
    """identity -> (sha256, status, original_name) of its stored or partial files, oldest first.

    One query for a whole batch of files (the writer decides a batch at once).
    """
    if not identities:
        return {}
    found: dict[str, list[tuple[str, str, str]]] = {}
    for ident, sha, status, name in store.rows(
        "SELECT fit_identity, sha256, status, original_name FROM files WHERE athlete_id = ? "
        "AND fit_identity IN (SELECT unnest(?::VARCHAR[])) AND status IN ('stored', 'partial') "
        "ORDER BY first_seen_utc",
        [athlete_id, list(identities)],
    ):
        found.setdefault(ident, []).append((sha, status, name))
    return found


def checkpoint(store: Store) -> None:
    """Write the WAL into the database file (what closing the writer does anyway)."""
    store.con.execute("CHECKPOINT")


def row_counts(store: Store) -> dict[str, int]:
    """Rows per ingest table (the benchmark's count of what the writer stored)."""
    return {
        t: int(store.scalar(f"SELECT count(*) FROM {t}"))
        for t in ("files", "file_sightings", *_ACTIVITY_TABLES, "workout_steps")
    }


def table_frames(store: Store) -> dict[str, pl.DataFrame]:
    """Every row of the ingest tables (the benchmark appends them raw into another store)."""
    return {
        t: store.frame(f"SELECT * FROM {t}")
        for t in ("files", "file_sightings", *_ACTIVITY_TABLES, "workout_steps")
    }


def record_sightings(store: Store, rows: Sequence[tuple[str, str, str, Any]]) -> None:
    """Many sightings in one insert (already known ones are kept as they were)."""
    if not rows:
        return
    store.insert_frame(
        "file_sightings",
        pl.DataFrame(
            rows,
            schema={
                "athlete_id": pl.String,
                "sha256": pl.String,
                "path": pl.String,
                "seen_utc": pl.Datetime("us", "UTC"),
            },
            orient="row",
        ),
        or_ignore=True,
    )


#: The ``files`` columns the writer fills, as polars types (migration 0001).
_FILES_SCHEMA: dict[str, Any] = {
    "athlete_id": pl.String,
    "sha256": pl.String,
    "status": pl.String,
    "reason_code": pl.String,
    "message": pl.String,
    "warnings": pl.List(pl.Struct({"code": pl.String, "message": pl.String})),
    "original_name": pl.String,
    "size_bytes": pl.Int64,
    "file_type": pl.String,
    "manufacturer": pl.String,
    "product": pl.String,
    "serial_number": pl.UInt64,
    "time_created": pl.Datetime("us", "UTC"),
    "utc_offset_s": pl.Int32,
    "fit_identity": pl.String,
    "duplicate_of": pl.String,
    "n_messages": pl.Int32,
    "n_activities": pl.Int32,
    "parser_version": pl.String,
    "first_seen_utc": pl.Datetime("us", "UTC"),
}


def insert_file_rows(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """Many ``files`` rows in one insert (a batch of the writer; missing keys are NULL)."""
    if not rows:
        return
    cols = {c: [r.get(c) for r in rows] for c in _FILES_SCHEMA}
    store.insert_frame("files", pl.DataFrame(cols, schema=_FILES_SCHEMA))


def insert_file_row(store: Store, row: dict[str, Any]) -> None:
    cols = list(row)
    placeholders = ", ".join("?" for _ in cols)
    store.con.execute(
        f"INSERT INTO files ({', '.join(cols)}) VALUES ({placeholders})", [row[c] for c in cols]
    )


def supersede_file(
    store: Store, athlete_id: str, old_sha: str, new_sha: str, new_name: str
) -> None:
    """Drop the rows of a partial file whose complete copy has arrived; keep its files row."""
    ids = [
        r[0]
        for r in store.rows(
            "SELECT activity_id FROM activities WHERE athlete_id = ? AND file_sha256 = ?",
            [athlete_id, old_sha],
        )
    ]
    for table in _ACTIVITY_TABLES:
        store.con.execute(
            f"DELETE FROM {table} WHERE athlete_id = ? AND activity_id IN (SELECT unnest(?::VARCHAR[]))",
            [athlete_id, ids],
        )
    store.con.execute(
        "DELETE FROM workout_steps WHERE athlete_id = ? AND file_sha256 = ?", [athlete_id, old_sha]
    )
    store.con.execute(
        "UPDATE files SET status = 'duplicate', duplicate_of = ?, n_activities = 0, "
        "message = ? WHERE athlete_id = ? AND sha256 = ?",
        [
            new_sha,
            f"superseded by the complete copy {new_name}: its activity is stored from there",
            athlete_id,
            old_sha,
        ],
    )


def earliest_start(store: Store, athlete_id: str, shas: Sequence[str]) -> datetime | None:
    """Earliest activity start (UTC) of the files with these hashes, None when they have none."""
    value = store.scalar(
        "SELECT min(start_utc) FROM activities WHERE athlete_id = ? "
        "AND file_sha256 IN (SELECT unnest(?::VARCHAR[]))",
        [athlete_id, list(shas)],
    )
    return value if isinstance(value, datetime) else None
