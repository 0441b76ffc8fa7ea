"""From stored activities to derived tables and daily reports.

``refresh`` classifies new activities, computes their heart-rate metrics and re-evaluates the
recovery rules only where something changed: from the earliest new activity on (plus the rule
windows), so a nightly run with three new files costs the same on a store of ten years as on an
empty one. ``daily_report`` builds one athlete's report for one local date.

The store is passed in (or opened here by path); ``now`` is passed in: no clock reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import classify as cl
from pipeline import metrics as mt
from pipeline import recovery as rc
from pipeline import report as rp
from pipeline import report_html, report_index
from pipeline.config import AthleteSettings, Settings
from pipeline.errors import ReportError
from pipeline.storage import store as st

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


# -- reports ------------------------------------------------------------------------------


def daily_report(
    store: st.Store,
    settings: Settings,
    athlete_id: str,
    day: date,
    *,
    generated_at: datetime,
) -> DayReport:
    """The report of one local day, plus the HR traces of its flagged runs and a 4-week timeline.

    Files quarantined or partial since the day before are listed for a person to look at.
    """
    athlete = settings.athlete(athlete_id)
    start, end = rp.day_bounds(day, athlete.tz)
    quarantined = quarantined_files(store, athlete_id, start - timedelta(days=1))
    profile = _profile(store, athlete_id, athlete, end)
    history_from = start - timedelta(days=LOAD_HISTORY_DAYS)
    sessions = session_frame(store, athlete_id, since=history_from, until=end)
    day_sessions = sessions.filter((pl.col("start_utc") >= start) & (pl.col("start_utc") < end))
    flags = store.frame(
        "SELECT * FROM recovery_flags WHERE athlete_id = ? AND run_start_utc >= ? AND run_start_utc < ? "
        "ORDER BY run_start_utc",
        [athlete_id, start, end],
    )
    days = athlete.classification.unaccustomed_days
    legs = rc.legs_state(sessions, end, athlete.recovery, days)
    metric_cols = [c for c in sessions.columns if c not in ("start_utc", "end_utc")]
    daily = mt.daily_load(
        sessions.select("activity_id", "start_utc", "end_utc"),
        sessions.select([c for c in metric_cols if c == "activity_id" or c.startswith("trimp")]),
        athlete.tz,
    )
    load = mt.load_context(daily, day, athlete.load)
    report = rp.build_report(
        athlete_id=athlete_id,
        athlete_name=athlete.name or athlete_id,
        local_date=day,
        tz=athlete.tz,
        sessions=day_sessions,
        metrics=day_sessions,
        flags=flags,
        legs=legs,
        load=load,
        profile=profile,
        generated_at=generated_at,
        quarantined=quarantined,
        zone_model=athlete.intensity.zone_model,
    )
    flagged = flags["run_activity_id"].to_list()
    traces: dict[str, pl.DataFrame] = {}
    if flagged:
        hr = load_hr(store, athlete_id, flagged)
        for aid in flagged:
            traces[aid] = hr.filter(
                (pl.col("activity_id") == aid) & (pl.col("source") == "record")
            ).select("ts", "bpm")
    timeline_from = end - timedelta(days=28)
    timeline = sessions.filter(pl.col("start_utc") >= timeline_from)
    tl_flags = store.frame(
        "SELECT * FROM recovery_flags WHERE athlete_id = ? AND run_start_utc >= ? "
        "AND run_start_utc < ? ORDER BY run_start_utc",
        [athlete_id, timeline_from, end],
    )
    return DayReport(report, traces, timeline, tl_flags, athlete.intensity.zone_model)


@dataclass
class DayReport:
    """A built report and the frames its HTML plots need."""

    report: dict[str, Any]
    traces: dict[str, pl.DataFrame]
    timeline: pl.DataFrame
    timeline_flags: pl.DataFrame
    zone_model: str

    def render(self) -> dict[str, str]:
        """Markdown, JSON and self-contained HTML."""
        return {
            "md": rp.render_markdown(self.report),
            "json": rp.render_json(self.report),
            "html": report_html.render_html(
                self.report, self.traces, self.timeline, timeline_flags=self.timeline_flags
            ),
        }


def save_reports(
    store: st.Store, athlete_id: str, day: date, rendered: dict[str, str], *, generated_at: datetime
) -> None:
    """Keep the rendered report in the ``reports`` relation (one row per format)."""
    with store.transaction():
        for fmt, content in rendered.items():
            store.con.execute(
                "INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                [athlete_id, day, fmt, rp.REPORT_SCHEMA_VERSION, content, generated_at],
            )


def write_report_files(
    out_dir: Path, athlete_id: str, day: date, rendered: dict[str, str]
) -> dict[str, Path]:
    """Write ``<out_dir>/<athlete>/<date>.<fmt>`` atomically; returns the paths."""
    folder = out_dir / athlete_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt, content in rendered.items():
        target = folder / f"{day.isoformat()}.{fmt}"
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(target)
        paths[fmt] = target
    return paths


def quarantined_files(store: st.Store, athlete_id: str, since: datetime) -> list[dict[str, Any]]:
    """Files quarantined or partial since ``since``, for the report's 'files to look at'.

    Each with its ``status`` as ``files`` holds it (the report keeps the two apart) and its
    ``location``: where it was last seen (the quarantine folder once the inbox has filed it).
    """
    return st.files_to_look_at(store, athlete_id, since)


@dataclass(frozen=True)
class ProducedReport:
    """A report built, stored in the ``reports`` relation and written as files."""

    athlete_id: str
    day: date
    rendered: dict[str, str]
    paths: dict[str, Path]
    flags: int

    @property
    def markdown(self) -> str:
        return self.rendered["md"]


def produce_report(
    settings: Settings,
    athlete_id: str,
    day: date | None,
    *,
    generated_at: datetime,
    out_dir: Path,
    on_wait: st.WaitCallback | None = None,
    timeout_s: float = 120.0,
) -> ProducedReport:
    """Build a day's report read-only, store it (one short writer session), write its files.

    ``day=None`` picks the most telling day (``most_telling_day``). Shared by ``legday report``
    and the nightly flow, so both produce the same thing.
    """
    with st.open_store(settings.db_path, read_only=True, timeout_s=timeout_s, on_wait=on_wait) as s:
        day = day or most_telling_day(s, settings, athlete_id)
        built = daily_report(s, settings, athlete_id, day, generated_at=generated_at)
    rendered = built.render()
    with st.open_store(settings.db_path, timeout_s=timeout_s, on_wait=on_wait) as s:
        save_reports(s, athlete_id, day, rendered, generated_at=generated_at)
    paths = write_report_files(out_dir, athlete_id, day, rendered)
    # <out_dir>/index.html lists every report in the folder, this one included.
    paths["index"] = report_index.write_index(out_dir, generated_at=generated_at)
    flags = built.report.get("flags") or []
    return ProducedReport(athlete_id, day, rendered, paths, len(flags))


def most_telling_day(store: st.Store, settings: Settings, athlete_id: str) -> date:
    """The local day with the strongest flags (alerts first), else the day of the latest activity."""
    athlete = settings.athlete(athlete_id)
    flags = store.frame(
        "SELECT run_start_utc, severity FROM recovery_flags WHERE athlete_id = ?", [athlete_id]
    )
    if flags.height:
        rank = {"alert": 3, "warning": 2, "info": 1}
        scored: dict[date, tuple[int, int]] = {}
        for ts, sev in flags.iter_rows():
            d = ts.astimezone(athlete.tz).date()
            top, n = scored.get(d, (0, 0))
            scored[d] = (max(top, rank.get(sev, 0)), n + 1)
        return max(scored, key=lambda d: (scored[d], d))
    last = store.scalar(
        "SELECT max(start_utc) FROM activities WHERE athlete_id = ? AND time_plausible",
        [athlete_id],
    )
    if last is None:
        raise ReportError(f"athlete {athlete_id!r} has no activities in the store yet")
    day: date = last.astimezone(athlete.tz).date()
    return day
