"""The SQL of export summaries (migration 0007): storing them, matching them, reading them back.

``pipeline.exports.service`` writes the summaries of one export file; ``pipeline.derive.refresh``
(through ``pipeline.derive.summary_hints``) reads them with the few activity columns matching
needs, writes the matches back and reads the matched summaries of the activities it classifies.
I/O on the store passed in; no clock, no decisions.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipeline.store.db import Store

TABLE = "activity_summaries"

#: The columns ``pipeline.exports.service`` writes (match columns stay NULL or carried over).
EXERCISE_DTYPE = pl.List(
    pl.Struct(
        {
            "category": pl.String(),
            "sub_category": pl.String(),
            "sets": pl.Int32(),
            "reps": pl.Int32(),
            "max_weight_kg": pl.Float64(),
            "volume_kg": pl.Float64(),
            "duration_s": pl.Float64(),
        }
    )
)
ROW_SCHEMA: dict[str, pl.DataType] = {
    "athlete_id": pl.String(),
    "source": pl.String(),
    "source_id": pl.String(),
    "title": pl.String(),
    "activity_type": pl.String(),
    "sport_type": pl.String(),
    "start_utc": pl.Datetime("us", "UTC"),
    "start_local": pl.Datetime("us"),
    "duration_s": pl.Float64(),
    "exercises": EXERCISE_DTYPE,
    "file_name": pl.String(),
    "file_sha256": pl.String(),
    "origin": pl.String(),
    "origin_sha256": pl.String(),
    "unexpected": pl.List(pl.String()),
    "content_sha256": pl.String(),
    "imported_utc": pl.Datetime("us", "UTC"),
    "activity_id": pl.String(),
    "match_how": pl.String(),
    "delta_s": pl.Float64(),
    "candidates": pl.List(pl.String()),
    "match_note": pl.String(),
    "matched_utc": pl.Datetime("us", "UTC"),
}
MATCH_COLUMNS = ("activity_id", "match_how", "delta_s", "candidates", "match_note", "matched_utc")


def stored_keys(store: Store, athlete_id: str, source: str) -> pl.DataFrame:
    """``source_id, content_sha256`` and the match columns of the athlete's summaries of
    ``source`` (a few thousand short rows at most: one per recorded activity)."""
    return store.frame(
        f"SELECT source_id, content_sha256, {', '.join(MATCH_COLUMNS)} FROM {TABLE} "
        "WHERE athlete_id = ? AND source = ?",
        [athlete_id, source],
    )


def replace_summaries(store: Store, rows: pl.DataFrame) -> None:
    """Write ``rows`` (``ROW_SCHEMA``), replacing the rows of the same key. Call inside a
    transaction: the delete and the insert are one change."""
    if rows.height == 0:
        return
    for (athlete_id, source), part in rows.group_by(["athlete_id", "source"], maintain_order=True):
        store.con.execute(
            f"DELETE FROM {TABLE} WHERE athlete_id = ? AND source = ? "
            "AND source_id IN (SELECT unnest(?::VARCHAR[]))",
            [athlete_id, source, part["source_id"].to_list()],
        )
    store.insert_frame(TABLE, rows.select(list(ROW_SCHEMA)))


def count_summaries(store: Store, athlete_id: str) -> int:
    return int(
        store.scalar(f"SELECT count(*) FROM {TABLE} WHERE athlete_id = ?", [athlete_id]) or 0
    )


def summaries_to_match(store: Store, athlete_id: str) -> pl.DataFrame:
    """The athlete's summaries with what matching reads and their stored match.

    ``file_sha256`` is resolved through ``files.duplicate_of``: a Strava FIT file that duplicated
    one already stored (the same recording from the watch) points at the file holding the
    activity.
    """
    return store.frame(
        "SELECT s.source, s.source_id, s.title, s.activity_type, s.start_utc, s.duration_s, "
        "s.file_name, coalesce(f.duplicate_of, s.file_sha256) AS file_sha256, "
        f"{', '.join('s.' + c for c in MATCH_COLUMNS)} FROM {TABLE} s "
        "LEFT JOIN files f ON f.athlete_id = s.athlete_id AND f.sha256 = s.file_sha256 "
        "WHERE s.athlete_id = ? ORDER BY s.source, s.source_id",
        [athlete_id],
    )


def activities_to_match(store: Store, athlete_id: str) -> pl.DataFrame:
    """The columns ``pipeline.exports.match.match_summaries`` reads, and no more."""
    return store.frame(
        "SELECT a.activity_id, a.start_utc, a.sport, a.sub_sport, a.elapsed_s, a.timer_s, "
        "a.file_sha256, f.original_name FROM activities a "
        "LEFT JOIN files f ON f.athlete_id = a.athlete_id AND f.sha256 = a.file_sha256 "
        "WHERE a.athlete_id = ?",
        [athlete_id],
    )


def save_matches(store: Store, athlete_id: str, matches: pl.DataFrame, now: datetime) -> None:
    """Write ``matches`` (``source, source_id`` and the match columns but ``matched_utc``)."""
    if matches.height == 0:
        return
    frame = matches.with_columns(pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("matched_utc"))
    sets = ", ".join(f"{c} = m.{c}" for c in MATCH_COLUMNS)
    store.con.register("_legday_summary_matches", frame.to_arrow())
    try:
        store.con.execute(
            f"UPDATE {TABLE} s SET {sets} FROM _legday_summary_matches m "
            "WHERE s.athlete_id = ? AND s.source = m.source AND s.source_id = m.source_id",
            [athlete_id],
        )
    finally:
        store.con.unregister("_legday_summary_matches")


def matched_summaries(store: Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    """The summaries matched to some activities: what classification reads of them."""
    return store.frame(
        "SELECT activity_id, source, source_id, title, activity_type, exercises "
        f"FROM {TABLE} WHERE athlete_id = ? AND activity_id IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY activity_id, source, source_id",
        [athlete_id, ids],
    )
