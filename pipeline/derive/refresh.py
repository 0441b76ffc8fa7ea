"""From stored activities to derived tables: kinds, metrics, recovery flags and labels.

``refresh`` classifies new activities, computes their heart-rate metrics and re-evaluates the
recovery rules only where something changed: from the earliest new activity on (plus the rule
windows), so a nightly run with three new files costs the same on a store of ten years as on an
empty one. Reports are built from these tables in ``pipeline.report.produce``.

The store is passed in (or opened here by path); ``now`` is passed in: no clock reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from pipeline.config import AthleteSettings, Settings
from pipeline.derive import classify as cl
from pipeline.derive import metrics as mt
from pipeline.derive import recovery as rc
from pipeline.errors import ReportError
from pipeline.store import db as st

#: Days of history the load model reads: six time constants of the 42-day fitness model
#: leave under 0.3 % of the initial value, so older history cannot change the numbers shown.
LOAD_HISTORY_DAYS = 6 * 42
#: Activities classified and measured per transaction during a refresh.
REFRESH_CHUNK = 25


@dataclass(frozen=True)
class RefreshResult:
    athlete_id: str
    classified: int
    measured: int
    flags: int
    since_utc: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


# -- loading ------------------------------------------------------------------------------


def _in(ids: list[str]) -> str:
    return "(SELECT unnest(?::VARCHAR[]))" if ids else "(SELECT NULL::VARCHAR WHERE false)"


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


def load_activities(
    store: st.Store,
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


def _by_ids(
    store: st.Store, table: str, athlete_id: str, ids: list[str], order: str
) -> pl.DataFrame:
    params: list[Any] = [athlete_id] + ([ids] if ids else [])
    return store.frame(
        f"SELECT * FROM {table} WHERE athlete_id = ? AND activity_id IN {_in(ids)} ORDER BY {order}",
        params,
    )


def load_hr(store: st.Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    """The heart-rate samples of some activities, ordered by activity and time.

    The time bounds from ``hr_spans`` change no result (every sample of these activities lies
    inside them or has no time) but let DuckDB skip the row groups of other times, so the cost
    follows the activities asked for, not the years stored.
    """
    params: list[Any] = [athlete_id] + ([ids] if ids else [])
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


def load_steps(store: st.Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    params: list[Any] = [athlete_id] + ([ids] if ids else [])
    return store.frame(
        "SELECT a.activity_id, w.* EXCLUDE (file_sha256) FROM workout_steps w "
        "JOIN activities a ON a.athlete_id = w.athlete_id AND a.file_sha256 = w.file_sha256 "
        f"WHERE w.athlete_id = ? AND a.activity_id IN {_in(ids)} ORDER BY a.activity_id, w.step_index",
        params,
    )


def observed_max_hr(store: st.Store, athlete_id: str, as_of: datetime) -> int | None:
    """Highest heart rate recorded in the 12 months before ``as_of`` (session maxima)."""
    value = store.scalar(
        # 230 bpm caps strap glitches that would otherwise set every zone too high.
        "SELECT max(max_hr) FROM activities WHERE athlete_id = ? AND start_utc >= ? "
        "AND start_utc < ? AND time_plausible AND max_hr <= 230",
        [athlete_id, as_of - timedelta(days=365), as_of],
    )
    return int(value) if value is not None else None


def _profile(
    store: st.Store, athlete_id: str, athlete: AthleteSettings, now: datetime
) -> mt.HrProfile:
    observed = None if athlete.max_hr else observed_max_hr(store, athlete_id, now)
    return mt.resolve_hr_profile(athlete, observed, now.date())


def _kinds(store: st.Store, athlete_id: str, ids: list[str]) -> pl.DataFrame:
    """Effective kinds: a person's label wins over the rules."""
    params: list[Any] = [athlete_id] + ([ids] if ids else [])
    return store.frame(
        "SELECT c.activity_id, coalesce(l.kind, c.kind) AS kind, c.region, c.leg_score, "
        "c.lower_sets, c.active_sets, c.heavy, "
        "CASE WHEN l.kind IS NULL THEN c.reason ELSE 'labelled ' || l.kind || ' by you' "
        "|| coalesce(': ' || l.note, '') || ' (rules said: ' || c.reason || ')' END AS reason, "
        "CASE WHEN l.kind IS NULL THEN 'rules' ELSE 'label' END AS source "
        "FROM classifications c LEFT JOIN labels l USING (athlete_id, activity_id) "
        f"WHERE c.athlete_id = ? AND c.activity_id IN {_in(ids)}",
        params,
    )


def _replace(store: st.Store, table: str, athlete_id: str, df: pl.DataFrame, now: datetime) -> None:
    """Replace rows of ``table`` for the activity ids in ``df`` (columns the table lacks drop)."""
    if df.height == 0:
        return
    cols = [r[0] for r in store.rows(f"SELECT column_name FROM (DESCRIBE {table})")]
    df = df.with_columns(pl.lit(athlete_id).alias("athlete_id"), pl.lit(now).alias("computed_utc"))
    df = df.select([c for c in cols if c in df.columns])
    ids = df["activity_id"].to_list()
    store.con.execute(
        f"DELETE FROM {table} WHERE athlete_id = ? AND activity_id IN (SELECT unnest(?::VARCHAR[]))",
        [athlete_id, ids],
    )
    store.insert_frame(table, df)


# -- refresh ------------------------------------------------------------------------------


def refresh(
    store: st.Store,
    settings: Settings,
    athlete_id: str,
    *,
    now: datetime,
    full: bool = False,
    only: list[str] | None = None,
) -> RefreshResult:
    """Bring classifications, metrics and flags of one athlete up to date.

    By default only activities without derived rows, or measured with another HR profile, are
    recomputed; ``only`` forces a list of activities, ``full`` forces all.
    """
    athlete = settings.athlete(athlete_id)
    profile = _profile(store, athlete_id, athlete, now)
    if only is not None:
        todo = list(only)
    elif full:
        todo = [
            r[0]
            for r in store.rows(
                "SELECT activity_id FROM activities WHERE athlete_id = ?", [athlete_id]
            )
        ]
    else:
        todo = [
            r[0]
            for r in store.rows(
                "SELECT a.activity_id FROM activities a "
                "LEFT JOIN classifications c USING (athlete_id, activity_id) "
                "LEFT JOIN session_metrics m USING (athlete_id, activity_id) "
                "WHERE a.athlete_id = ? AND (c.activity_id IS NULL OR m.activity_id IS NULL "
                "OR m.max_hr_used IS DISTINCT FROM ? OR m.resting_hr_used IS DISTINCT FROM ? "
                "OR m.lthr_used IS DISTINCT FROM ?)",
                [athlete_id, profile.max_hr, profile.resting_hr, profile.lthr],
            )
        ]
    if not todo:
        return RefreshResult(athlete_id, 0, 0, 0, None)
    classified_n = measured_n = 0
    since: datetime | None = None
    # Chunks bound memory by the chunk, not by the history (a backfill of years of 1 Hz heart
    # rate would not fit otherwise); each chunk commits on its own, so an interrupted refresh
    # resumes where it stopped.
    for start in range(0, len(todo), REFRESH_CHUNK):
        ids = todo[start : start + REFRESH_CHUNK]
        with store.transaction():
            acts = load_activities(store, athlete_id, ids=ids)
            sets = _by_ids(store, "strength_sets", athlete_id, ids, "activity_id, set_index")
            steps = load_steps(store, athlete_id, ids)
            classified = cl.classify(acts, sets, steps, athlete.classification)
            _replace(store, "classifications", athlete_id, classified, now)
            kinds = _kinds(store, athlete_id, ids)
            hr = load_hr(store, athlete_id, ids)
            metrics = mt.session_metrics(acts, kinds, hr, profile, athlete.intensity)
            metrics = metrics.with_columns(
                pl.lit(profile.resting_hr).alias("resting_hr_used"),
                pl.lit(profile.lthr).alias("lthr_used"),
            )
            _replace(store, "session_metrics", athlete_id, metrics, now)
        classified_n += classified.height
        measured_n += metrics.height
        first = acts.filter(pl.col("time_plausible"))["start_utc"].min()
        if isinstance(first, datetime) and (since is None or first < since):
            since = first
    n_flags = 0
    if since is not None:
        with store.transaction():
            n_flags = _refresh_flags(store, settings, athlete_id, since, now)
    return RefreshResult(athlete_id, classified_n, measured_n, n_flags, since)


def session_frame(
    store: st.Store, athlete_id: str, *, since: datetime | None, until: datetime | None = None
) -> pl.DataFrame:
    """Activities joined with effective kind and metrics: the input of the recovery rules."""
    sql = (
        "SELECT a.activity_id, a.start_utc, a.end_utc, a.sport, a.sub_sport, a.name, "
        "a.elapsed_s, a.timer_s, a.distance_m, a.avg_hr, a.max_hr, a.calories_kcal, a.workout_rpe, "
        "coalesce(l.kind, c.kind) AS kind, c.region, c.leg_score, c.lower_sets, c.active_sets, "
        "coalesce(c.heavy, false) AS heavy, "
        "CASE WHEN l.kind IS NULL THEN c.reason ELSE 'labelled ' || l.kind || ' by you' "
        "|| coalesce(': ' || l.note, '') END AS kind_reason, "
        "m.* EXCLUDE (athlete_id, activity_id, computed_utc, avg_hr) "
        "FROM activities a "
        "LEFT JOIN classifications c USING (athlete_id, activity_id) "
        "LEFT JOIN labels l USING (athlete_id, activity_id) "
        "LEFT JOIN session_metrics m USING (athlete_id, activity_id) "
        # A session whose clock was implausible is kept but never put on a day.
        "WHERE a.athlete_id = ? AND a.time_plausible"
    )
    sql, params = _window(sql, athlete_id, since, until)
    return store.frame(sql + " ORDER BY a.start_utc", params)


def _refresh_flags(
    store: st.Store, settings: Settings, athlete_id: str, since: datetime, now: datetime
) -> int:
    athlete = settings.athlete(athlete_id)
    days = athlete.classification.unaccustomed_days
    r = athlete.recovery
    # Leg sessions this far before the earliest change can still decide a flag after it, and
    # the unaccustomed test looks ``days`` further back again.
    window_h = max(r.alert_hours, r.warning_hours, r.heavy_warning_hours, r.info_hours)
    lookback = since - timedelta(hours=window_h) - timedelta(days=days + 1)
    sessions = session_frame(store, athlete_id, since=lookback)
    flags = rc.recovery_flags(sessions, athlete.recovery, days, tz=athlete.tz)
    flags = flags.filter(pl.col("run_start_utc") >= since)
    store.con.execute(
        "DELETE FROM recovery_flags WHERE athlete_id = ? AND run_start_utc >= ?",
        [athlete_id, since],
    )
    if flags.height:
        cols = [r[0] for r in store.rows("SELECT column_name FROM (DESCRIBE recovery_flags)")]
        out = flags.with_columns(
            pl.lit(athlete_id).alias("athlete_id"), pl.lit(now).alias("computed_utc")
        )
        store.insert_frame("recovery_flags", out.select([c for c in cols if c in out.columns]))
    return flags.height


def refresh_store(
    settings: Settings,
    *,
    now: datetime,
    on_wait: st.WaitCallback | None = None,
    full: bool = False,
    athletes: list[str] | None = None,
) -> dict[str, Any]:
    """Open the store as writer and refresh every athlete that has activities."""
    out: dict[str, Any] = {}
    with st.open_store(settings.db_path, timeout_s=600, on_wait=on_wait) as store:
        store.migrate(now)
        present = [
            r[0] for r in store.rows("SELECT DISTINCT athlete_id FROM activities ORDER BY 1")
        ]
        for athlete_id in athletes or present:
            if athlete_id not in settings.athletes:
                continue  # activities of an athlete no longer configured stay as they are
            out[athlete_id] = refresh(store, settings, athlete_id, now=now, full=full).as_dict()
    return out


def set_label(
    store: st.Store, athlete_id: str, activity: str, kind: str, note: str | None, *, now: datetime
) -> str:
    """Record a person's correction; ``activity`` may be a unique id prefix. Returns the full id."""
    if kind not in cl.KINDS:
        raise ReportError(f"kind must be one of {', '.join(cl.KINDS)}, not {kind!r}")
    ids = [
        r[0]
        for r in store.rows(
            "SELECT activity_id FROM activities WHERE athlete_id = ? AND starts_with(activity_id, ?)",
            [athlete_id, activity],
        )
    ]
    if len(ids) != 1:
        raise ReportError(
            f"no activity of {athlete_id!r} has an id starting with {activity!r}"
            if not ids
            else f"{len(ids)} activities start with {activity!r}; give more characters"
        )
    store.con.execute(
        "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?)",
        [athlete_id, ids[0], kind, note, now],
    )
    return ids[0]
