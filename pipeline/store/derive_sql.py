"""The SQL of ``pipeline.derive``: what refresh reads from the store and writes back.

Functions take an open ``Store`` and return frames or plain values; the logic that decides what
to compute stays in ``pipeline.derive.refresh``. Every statement here is parameterised; table
names come from this module only. All of it is I/O on the store passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from pipeline.store.db import Store

#: Tables refresh replaces rows of, per activity.
DERIVED_TABLES = ("classifications", "session_metrics")


def _in(ids: list[str]) -> str:
    return "(SELECT unnest(?::VARCHAR[]))" if ids else "(SELECT NULL::VARCHAR WHERE false)"


def _ids_params(athlete_id: str, ids: list[str]) -> list[Any]:
    return [athlete_id] + ([ids] if ids else [])


def _window(
    sql: str, athlete_id: str, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    """Restrict a query on activities ``a`` to those overlapping ``[since, until)``."""
    params: list[Any] = [athlete_id]
    if since is not None:
        sql += " AND a.end_utc >= ?"
        params.append(since)
    if until is not None:
        sql += " AND a.start_utc < ?"
        params.append(until)
    return sql, params


# -- what to refresh --------------------------------------------------------------------------


def athletes_with_activities(store: Store) -> list[str]:
    return [r[0] for r in store.rows("SELECT DISTINCT athlete_id FROM activities ORDER BY 1")]


def activity_ids(store: Store, athlete_id: str) -> list[str]:
    return [
        r[0]
        for r in store.rows("SELECT activity_id FROM activities WHERE athlete_id = ?", [athlete_id])
    ]


def stale_activity_ids(
    store: Store, athlete_id: str, max_hr: int, resting_hr: int, lthr: int
) -> list[str]:
    """Activities without derived rows, measured with another heart-rate profile, or strength
    sessions classified before their evidence and likeness keys were kept (migration 0006)."""
    return [
        r[0]
        for r in store.rows(
            "SELECT a.activity_id FROM activities a "
            "LEFT JOIN classifications c USING (athlete_id, activity_id) "
            "LEFT JOIN session_metrics m USING (athlete_id, activity_id) "
            "WHERE a.athlete_id = ? AND (c.activity_id IS NULL OR m.activity_id IS NULL "
            "OR m.max_hr_used IS DISTINCT FROM ? OR m.resting_hr_used IS DISTINCT FROM ? "
            "OR m.lthr_used IS DISTINCT FROM ? "
            "OR (c.kind IN ('strength', 'leg_strength') AND c.evidence IS NULL))",
            [athlete_id, max_hr, resting_hr, lthr],
        )
    ]


# -- inputs -----------------------------------------------------------------------------------


def load_activities(
    store: Store,
    athlete_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: list[str] | None = None,
) -> pl.DataFrame:
    sql, params = _window(
        "SELECT * FROM activities a WHERE a.athlete_id = ?", athlete_id, since, until
    )
    if ids is not None:
        sql += f" AND a.activity_id IN {_in(ids)}"
        if ids:
            params.append(ids)
    return store.frame(sql + " ORDER BY a.start_utc", params)


def load_sets(store: Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    return store.frame(
        f"SELECT * FROM strength_sets WHERE athlete_id = ? AND activity_id IN {_in(ids)} "
        "ORDER BY activity_id, set_index",
        _ids_params(athlete_id, ids),
    )


def load_steps(store: Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    return store.frame(
        "SELECT a.activity_id, w.* EXCLUDE (file_sha256) FROM workout_steps w "
        "JOIN activities a ON a.athlete_id = w.athlete_id AND a.file_sha256 = w.file_sha256 "
        f"WHERE w.athlete_id = ? AND a.activity_id IN {_in(ids)} ORDER BY a.activity_id, w.step_index",
        _ids_params(athlete_id, ids),
    )


def load_hr(store: Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    """The heart-rate samples of some activities, ordered by activity and time.

    The time bounds from ``hr_spans`` change no result (every sample of these activities lies
    inside them or has no time) but let DuckDB skip the row groups of other times, so the cost
    follows the activities asked for, not the years stored.
    """
    params = _ids_params(athlete_id, ids)
    lo, hi = store.rows(
        f"SELECT min(first_utc), max(last_utc) FROM hr_spans "
        f"WHERE athlete_id = ? AND activity_id IN {_in(ids)}",
        params,
    )[0]
    return store.frame(
        f"SELECT * FROM hr_samples WHERE athlete_id = ? AND activity_id IN {_in(ids)} "
        "AND (ts IS NULL OR ts BETWEEN ? AND ?) ORDER BY activity_id, ts",
        [*params, lo, hi],
    )


def observed_max_hr(store: Store, athlete_id: str, as_of: datetime) -> int | None:
    """Highest heart rate recorded in the 12 months before ``as_of`` (session maxima)."""
    value = store.scalar(
        # 230 bpm caps strap glitches that would otherwise set every zone too high.
        "SELECT max(max_hr) FROM activities WHERE athlete_id = ? AND start_utc >= ? "
        "AND start_utc < ? AND time_plausible AND max_hr <= 230",
        [athlete_id, as_of - timedelta(days=365), as_of],
    )
    return int(value) if value is not None else None


def load_labels(store: Store, athlete_id: str) -> pl.DataFrame:
    """A person's labels (``pipeline.derive.labels.LABELS_SCHEMA``): a handful per athlete."""
    return store.frame(
        "SELECT activity_id, kind, note, labelled_utc FROM labels WHERE athlete_id = ? "
        "ORDER BY activity_id",
        [athlete_id],
    )


def rule_sessions(
    store: Store, athlete_id: str, *, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    """Activities with the rules' kind and the metrics, before labels (``derive.refresh``).

    ``kind_reason`` is the rules' reason here; ``learned_kind``/``learned_reason`` what
    ``pipeline.derive.learned`` put over it, and ``pipeline.derive.labels`` puts labels on top;
    ``summary_title`` the title of an export summary matched to it (Garmin's before Strava's);
    ``history_start_utc`` the start of the athlete's first activity, whatever the window (the
    recovery rules' "unaccustomed" test must not depend on how far back a caller reads).
    """
    sql = (
        "SELECT a.activity_id, a.start_utc, a.end_utc, a.sport, a.sub_sport, a.name, "
        "a.elapsed_s, a.timer_s, a.distance_m, a.avg_hr, a.max_hr, a.calories_kcal, a.workout_rpe, "
        "c.kind, c.region, c.leg_score, c.lower_sets, c.active_sets, "
        "coalesce(c.heavy, false) AS heavy, c.reason AS kind_reason, "
        "lk.kind AS learned_kind, lk.reason AS learned_reason, st.title AS summary_title, "
        "m.* EXCLUDE (athlete_id, activity_id, computed_utc, avg_hr), hs.history_start_utc "
        "FROM activities a "
        "CROSS JOIN (SELECT min(start_utc) AS history_start_utc FROM activities "
        "WHERE athlete_id = ? AND time_plausible) hs "
        "LEFT JOIN classifications c USING (athlete_id, activity_id) "
        "LEFT JOIN learned_kinds lk USING (athlete_id, activity_id) "
        "LEFT JOIN session_metrics m USING (athlete_id, activity_id) "
        "LEFT JOIN (SELECT athlete_id, activity_id, first(title ORDER BY source, source_id) "
        "AS title FROM activity_summaries WHERE activity_id IS NOT NULL AND title IS NOT NULL "
        "GROUP BY athlete_id, activity_id) st USING (athlete_id, activity_id) "
        # A session whose clock was implausible is kept but never put on a day.
        "WHERE a.athlete_id = ? AND a.time_plausible"
    )
    sql, params = _window(sql, athlete_id, since, until)
    return store.frame(sql + " ORDER BY a.start_utc", [athlete_id, *params])


def learning_features(store: Store, athlete_id: str) -> pl.DataFrame:
    """What ``pipeline.derive.learned`` matches on (``FEATURES_SCHEMA``): every strength
    session and every labelled session of the athlete, with the rules' kind and region, and
    the title of an export summary matched to it (Garmin's before Strava's)."""
    return store.frame(
        "SELECT a.activity_id, a.start_utc, a.name, st.title AS summary_title, c.workout_name, "
        "c.set_signature, c.kind, c.region FROM activities a "
        "JOIN classifications c USING (athlete_id, activity_id) "
        "LEFT JOIN (SELECT activity_id, first(title ORDER BY source, source_id) AS title "
        "FROM activity_summaries WHERE athlete_id = ? AND activity_id IS NOT NULL "
        "AND title IS NOT NULL GROUP BY activity_id) st USING (activity_id) "
        "WHERE a.athlete_id = ? AND (c.kind IN ('strength', 'leg_strength') OR EXISTS "
        "(SELECT 1 FROM labels l WHERE l.athlete_id = a.athlete_id "
        "AND l.activity_id = a.activity_id)) ORDER BY a.start_utc, a.activity_id",
        [athlete_id, athlete_id],
    )


def load_learned(store: Store, athlete_id: str) -> pl.DataFrame:
    """The athlete's ``learned_kinds`` rows (``learned.LEARNED_SCHEMA`` columns)."""
    return store.frame(
        "SELECT activity_id, kind, teacher_activity_id, matched_by, reason FROM learned_kinds "
        "WHERE athlete_id = ? ORDER BY activity_id",
        [athlete_id],
    )


# -- outputs ----------------------------------------------------------------------------------


def replace_learned(store: Store, athlete_id: str, learned: pl.DataFrame, now: datetime) -> None:
    """The athlete's learned kinds become ``learned`` (derived: replaced whole)."""
    store.con.execute("DELETE FROM learned_kinds WHERE athlete_id = ?", [athlete_id])
    if learned.height:
        out = learned.with_columns(
            pl.lit(athlete_id).alias("athlete_id"), pl.lit(now).alias("computed_utc")
        )
        cols = _columns(store, "learned_kinds")
        store.insert_frame("learned_kinds", out.select(cols))


def _columns(store: Store, table: str) -> list[str]:
    return [r[0] for r in store.rows(f"SELECT column_name FROM (DESCRIBE {table})")]


def replace_derived(
    store: Store, table: str, athlete_id: str, df: pl.DataFrame, now: datetime
) -> None:
    """Replace rows of ``table`` for the activity ids in ``df`` (columns the table lacks drop)."""
    if table not in DERIVED_TABLES:
        raise ValueError(f"{table!r} is not a derived table ({', '.join(DERIVED_TABLES)})")
    if df.height == 0:
        return
    cols = _columns(store, table)
    df = df.with_columns(pl.lit(athlete_id).alias("athlete_id"), pl.lit(now).alias("computed_utc"))
    df = df.select([c for c in cols if c in df.columns])
    store.con.execute(
        f"DELETE FROM {table} WHERE athlete_id = ? AND activity_id IN (SELECT unnest(?::VARCHAR[]))",
        [athlete_id, df["activity_id"].to_list()],
    )
    store.insert_frame(table, df)


def replace_flags(
    store: Store, athlete_id: str, since: datetime, flags: pl.DataFrame, now: datetime
) -> None:
    """The recovery flags of runs from ``since`` on become ``flags``."""
    store.con.execute(
        "DELETE FROM recovery_flags WHERE athlete_id = ? AND run_start_utc >= ?",
        [athlete_id, since],
    )
    if flags.height:
        out = flags.with_columns(
            pl.lit(athlete_id).alias("athlete_id"), pl.lit(now).alias("computed_utc")
        )
        cols = _columns(store, "recovery_flags")
        store.insert_frame("recovery_flags", out.select([c for c in cols if c in out.columns]))


def activity_ids_starting_with(store: Store, athlete_id: str, prefix: str) -> list[str]:
    return [
        r[0]
        for r in store.rows(
            "SELECT activity_id FROM activities WHERE athlete_id = ? AND starts_with(activity_id, ?)",
            [athlete_id, prefix],
        )
    ]


def save_label(
    store: Store, athlete_id: str, activity_id: str, kind: str, note: str | None, now: datetime
) -> None:
    store.con.execute(
        "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?)",
        [athlete_id, activity_id, kind, note, now],
    )
