"""The SQL of the leg fatigue curve and of ``legday evidence`` (issue 14): what they read from the
core and derived relations, and what they write to ``fatigue_doses``, ``fatigue_curve`` and
``legs_ready`` (migration 0005). I/O on the store passed in; no clock, no settings.

Kinds are the effective ones, as in ``activity_overview`` and the recovery windows
(``derive.refresh.session_frame``): a person's label, then a kind learned from a label on a
session like it (``learned_kinds``), then the rules. Activities whose clock was implausible are
left out (kept, never put in time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from pipeline.store.db import Store

#: Effective kind and possible region of each plausible activity (label, learned, rules).
_KINDS = (
    "SELECT a.activity_id, a.start_utc, a.end_utc, coalesce(l.kind, lk.kind, c.kind) AS kind, "
    "c.region FROM activities a "
    "LEFT JOIN classifications c USING (athlete_id, activity_id) "
    "LEFT JOIN labels l USING (athlete_id, activity_id) "
    "LEFT JOIN learned_kinds lk USING (athlete_id, activity_id) "
    "WHERE a.athlete_id = ? AND a.time_plausible AND a.start_utc IS NOT NULL"
)

#: Kinds whose sets count as leg doses (an upper-body set resolves to no region and adds none).
STRENGTH_KINDS = ("leg_strength", "strength")


def history_start(store: Store, athlete_id: str) -> datetime | None:
    """Where the athlete's records begin (the unaccustomed rule needs to know)."""
    value = store.scalar(
        "SELECT min(start_utc) FROM activities WHERE athlete_id = ? AND time_plausible",
        [athlete_id],
    )
    return value if isinstance(value, datetime) else None


def strength_sessions(store: Store, athlete_id: str) -> pl.DataFrame:
    """``activity_id, region``: the strength sessions and their possible region (classification),
    which the dose model uses for sets nothing identifies."""
    return store.frame(
        f"SELECT activity_id, region FROM ({_KINDS}) k "
        "WHERE kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY start_utc, activity_id",
        [athlete_id, list(STRENGTH_KINDS)],
    )


def strength_sets(store: Store, athlete_id: str) -> pl.DataFrame:
    """Active (or untyped) sets of the athlete's strength sessions, in time order: the columns
    ``pipeline.derive.fatigue.set_doses`` reads."""
    return store.frame(
        "SELECT s.activity_id, s.set_index, s.set_type, s.start_utc, s.duration_s, "
        "s.repetitions, s.weight_kg, s.category, s.exercise_name "
        f"FROM strength_sets s JOIN ({_KINDS}) k ON k.activity_id = s.activity_id "
        "WHERE s.athlete_id = ? AND k.kind IN (SELECT unnest(?::VARCHAR[])) "
        "AND s.start_utc IS NOT NULL AND (s.set_type IS NULL OR s.set_type <> 'rest') "
        "ORDER BY s.start_utc, s.activity_id, s.set_index",
        [athlete_id, athlete_id, list(STRENGTH_KINDS)],
    )


def leg_sessions(store: Store, athlete_id: str) -> pl.DataFrame:
    """``activity_id, start_utc, end_utc`` of the leg sessions (``end_utc`` falls back to the
    start for a session without one), in end order."""
    return store.frame(
        "SELECT activity_id, start_utc, coalesce(end_utc, start_utc) AS end_utc "
        f"FROM ({_KINDS}) k WHERE kind = 'leg_strength' ORDER BY 3, 1",
        [athlete_id],
    )


def runs(store: Store, athlete_id: str) -> pl.DataFrame:
    """``activity_id, start_utc, intensity`` of the athlete's runs, in time order."""
    return store.frame(
        "SELECT k.activity_id, k.start_utc, m.intensity "
        f"FROM ({_KINDS}) k LEFT JOIN session_metrics m "
        "ON m.athlete_id = ? AND m.activity_id = k.activity_id "
        "WHERE k.kind = 'run' ORDER BY k.start_utc, k.activity_id",
        [athlete_id, athlete_id],
    )


def run_laps(store: Store, athlete_id: str) -> pl.DataFrame:
    """The laps of the athlete's runs (the segments of ``evidence_measures.run_measures``)."""
    return store.frame(
        "SELECT l.activity_id, l.lap_index, l.start_utc, l.timer_s, l.distance_m, l.avg_hr "
        f"FROM laps l JOIN ({_KINDS}) k ON k.activity_id = l.activity_id "
        "WHERE l.athlete_id = ? AND k.kind = 'run' ORDER BY l.activity_id, l.lap_index",
        [athlete_id, athlete_id],
    )


def run_hr_samples(store: Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    """``activity_id, ts, bpm`` of some runs. The time bounds from ``hr_spans`` change no result
    but let DuckDB skip the row groups of other times (hr_samples has no index)."""
    if not ids:
        return pl.DataFrame(
            schema={"activity_id": pl.String(), "ts": pl.Datetime("us", "UTC"), "bpm": pl.Int16()}
        )
    lo, hi = store.rows(
        "SELECT min(first_utc), max(last_utc) FROM hr_spans "
        "WHERE athlete_id = ? AND activity_id IN (SELECT unnest(?::VARCHAR[]))",
        [athlete_id, ids],
    )[0]
    return store.frame(
        "SELECT activity_id, ts, bpm FROM hr_samples WHERE athlete_id = ? "
        "AND activity_id IN (SELECT unnest(?::VARCHAR[])) AND ts BETWEEN ? AND ? "
        "ORDER BY activity_id, ts",
        [athlete_id, ids, lo, hi],
    )


# -- writing ---------------------------------------------------------------------------------


def _with(df: pl.DataFrame, athlete_id: str, now: datetime) -> pl.DataFrame:
    return df.with_columns(
        pl.lit(athlete_id).alias("athlete_id"),
        pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("computed_utc"),
    )


def save_fatigue(
    store: Store,
    athlete_id: str,
    *,
    doses: pl.DataFrame,
    curve: pl.DataFrame,
    ready: dict[str, Any],
    now: datetime,
) -> None:
    """Replace the athlete's doses and curve and record the ready row of ``ready['as_of_utc']``,
    in one transaction (readers see the old state or the new one, never a mix)."""
    with store.transaction():
        for table in ("fatigue_doses", "fatigue_curve"):
            store.con.execute(f"DELETE FROM {table} WHERE athlete_id = ?", [athlete_id])
        store.insert_frame("fatigue_doses", _with(doses, athlete_id, now))
        store.insert_frame("fatigue_curve", _with(curve, athlete_id, now))
        store.con.execute(
            "DELETE FROM legs_ready WHERE athlete_id = ? AND as_of_utc = ?",
            [athlete_id, ready["as_of_utc"]],
        )
        cols = [
            "as_of_utc",
            "ready_at_utc",
            "limiting_region",
            "quadriceps",
            "posterior_chain",
            "calves",
            "threshold",
            "last_dose_utc",
        ]
        store.con.execute(
            f"INSERT INTO legs_ready (athlete_id, {', '.join(cols)}, computed_utc) "
            f"VALUES (?, {', '.join('?' for _ in cols)}, ?)",
            [athlete_id, *(ready[c] for c in cols), now],
        )


# -- reading what was saved (report, CLI) ------------------------------------------------------


def fatigue_doses(store: Store, athlete_id: str) -> pl.DataFrame:
    """The stored doses (``pipeline.derive.fatigue.DOSE_SCHEMA`` columns), in time order."""
    return store.frame(
        "SELECT * EXCLUDE (athlete_id, computed_utc) FROM fatigue_doses WHERE athlete_id = ? "
        "ORDER BY time_utc, activity_id, set_index",
        [athlete_id],
    )


def fatigue_curve(
    store: Store, athlete_id: str, since: datetime | None = None, until: datetime | None = None
) -> pl.DataFrame:
    """``time_utc, region, fatigue`` of the stored curve within ``[since, until]``."""
    sql = "SELECT time_utc, region, fatigue FROM fatigue_curve WHERE athlete_id = ?"
    params: list[Any] = [athlete_id]
    if since is not None:
        sql += " AND time_utc >= ?"
        params.append(since)
    if until is not None:
        sql += " AND time_utc <= ?"
        params.append(until)
    return store.frame(sql + " ORDER BY region, time_utc", params)


def latest_legs_ready(store: Store, athlete_id: str) -> dict[str, Any] | None:
    """The most recent ``legs_ready`` row of the athlete, or None."""
    df = store.frame(
        "SELECT * FROM legs_ready WHERE athlete_id = ? ORDER BY as_of_utc DESC LIMIT 1",
        [athlete_id],
    )
    return df.row(0, named=True) if df.height else None
