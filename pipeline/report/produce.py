"""Producing a day's report: build it from the store, render it, keep it and write its files.

``produce_report`` is the one sequence shared by ``legday report`` and the nightly flow: a
read-only session builds the report (``daily_report``), one short writer session keeps it in the
``reports`` relation, then the files and the folder's ``index.html`` are written. I/O: the store
(through ``store.report_sql``) and the report folder; ``generated_at`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from pipeline.config import Settings
from pipeline.derive import fatigue_service
from pipeline.derive import metrics as mt
from pipeline.derive import recovery as rc
from pipeline.derive.possible_legs import sessions_to_settle
from pipeline.derive.refresh import LOAD_HISTORY_DAYS, hr_profile, known_counts, session_frame
from pipeline.errors import ReportError
from pipeline.plans import service as plans_service
from pipeline.report import index as report_index
from pipeline.report import sections as sc
from pipeline.report.build import build_report, day_bounds
from pipeline.report.figures import TIMELINE_DAYS
from pipeline.report.figures_legs import CURVE_DAYS
from pipeline.report.html import render_html
from pipeline.report.markdown import render_markdown
from pipeline.report.model import Report, render_json
from pipeline.store import db as st
from pipeline.store import plans_sql
from pipeline.store import report_sql as sql
from pipeline.store.derive_sql import load_hr

#: "What your runs say" is the weekly view: the report of a Sunday carries it. It reads every
#: run's laps and heart rate (about 1 s on three years of history), which a daily report
#: should not pay every day.
EVIDENCE_WEEKDAY = 6


@dataclass(frozen=True)
class DayReport:
    """A built report and the frames its HTML plots need."""

    report: Report
    traces: dict[str, pl.DataFrame]  # flagged run's activity_id -> its HR samples (ts, bpm)
    timeline: pl.DataFrame  # the sessions of the four weeks
    timeline_flags: pl.DataFrame  # the recovery_flags rows of those weeks
    fatigue_curve: pl.DataFrame | None = None  # time_utc, region, fatigue of the last 7 days

    def render(self) -> dict[str, str]:
        """Markdown, JSON and self-contained HTML, by file extension."""
        return {
            "md": render_markdown(self.report),
            "json": render_json(self.report),
            "html": render_html(
                self.report,
                self.traces,
                self.timeline,
                timeline_flags=self.timeline_flags,
                fatigue_curve=self.fatigue_curve,
            ),
        }


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
    The sections of issues 13 and 14 (``report.sections``) read what the store keeps: the
    conflicts stored by the last plan check from the day's start to the end of the local day
    ``plans.horizon_days`` later; the legs' levels, ready time and 7 days' curve as of the end
    of the day (or ``generated_at``, when earlier) from the stored doses; and, on a Sunday,
    what the athlete's runs say (the whole history; nothing is stored or applied).
    """
    athlete = settings.athlete(athlete_id)
    start, end = day_bounds(day, athlete.tz)
    quarantined = sql.files_to_look_at(store, athlete_id, start - timedelta(days=1))
    profile = hr_profile(store, athlete_id, athlete, end)
    history_from = start - timedelta(days=LOAD_HISTORY_DAYS)
    sessions = session_frame(store, athlete_id, since=history_from, until=end)
    day_sessions = sessions.filter((pl.col("start_utc") >= start) & (pl.col("start_utc") < end))
    flags = sql.flags_between(store, athlete_id, start, end)
    days = athlete.classification.unaccustomed_days
    legs = rc.legs_state(sessions, end, athlete.recovery, days)
    metric_cols = [c for c in sessions.columns if c not in ("start_utc", "end_utc")]
    daily = mt.daily_load(
        sessions.select("activity_id", "start_utc", "end_utc"),
        sessions.select([c for c in metric_cols if c == "activity_id" or c.startswith("trimp")]),
        athlete.tz,
    )
    # The legs as of the end of the day (or now, for today), from the stored doses: the latest
    # ready row is as of the last refresh, which may be long after a past day.
    legs_row, curve = fatigue_service.legs_at(
        store, settings, athlete_id, min(end, generated_at), end - timedelta(days=CURVE_DAYS)
    )
    coming_up, runs_evidence = _sections(store, settings, athlete_id, day)
    leg_fatigue = sc.leg_fatigue(legs_row, athlete.recovery.model, athlete.tz)
    report = build_report(
        athlete_id=athlete_id,
        athlete_name=athlete.name or athlete_id,
        local_date=day,
        tz=athlete.tz,
        sessions=day_sessions,
        metrics=day_sessions,
        flags=flags,
        legs=legs,
        load=mt.load_context(daily, day, athlete.load),
        profile=profile,
        generated_at=generated_at,
        quarantined=quarantined,
        zone_model=athlete.intensity.zone_model,
        coming_up=coming_up,
        leg_fatigue=leg_fatigue,
        runs_evidence=runs_evidence,
        to_settle=sessions_to_settle(sessions, flags, legs),
        known=known_counts(store, settings, athlete_id, end),
    )
    flagged = flags["run_activity_id"].to_list()
    traces: dict[str, pl.DataFrame] = {}
    if flagged:
        hr = load_hr(store, athlete_id, flagged)
        for aid in flagged:
            traces[aid] = hr.filter(
                (pl.col("activity_id") == aid) & (pl.col("source") == "record")
            ).select("ts", "bpm")
    timeline_from = end - timedelta(days=TIMELINE_DAYS)
    timeline = sessions.filter(pl.col("start_utc") >= timeline_from)
    timeline_flags = sql.flags_between(store, athlete_id, timeline_from, end)
    return DayReport(report, traces, timeline, timeline_flags, curve)


def _sections(
    store: st.Store, settings: Settings, athlete_id: str, day: date
) -> tuple[sc.ComingUp, sc.RunsEvidence | None]:
    """``build_report``'s ``coming_up`` and ``runs_evidence`` of ``day`` (a Sunday only)."""
    athlete = settings.athlete(athlete_id)
    start, _ = day_bounds(day, athlete.tz)
    horizon = settings.plans.horizon_days
    _, until = day_bounds(day + timedelta(days=horizon), athlete.tz)
    plans = plans_sql.load_plans(store, athlete_id, since=start, until=until)
    coming_up = sc.coming_up(
        plans_sql.conflicts_frame(store, athlete_id, since=start),
        start=start,
        end=until,
        horizon_days=horizon,
        planned_kinds=[p.kind for p in plans],
        tz=athlete.tz,
    )
    if day.weekday() != EVIDENCE_WEEKDAY:
        return coming_up, None
    evidence = fatigue_service.evidence_for(store, settings, athlete_id)
    return coming_up, sc.runs_evidence(evidence)


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


@dataclass(frozen=True)
class ProducedReport:
    """A report built, stored in the ``reports`` relation and written as files."""

    athlete_id: str
    day: date
    rendered: dict[str, str]  # by file extension: md, json, html
    paths: dict[str, Path]  # the same keys, plus "index"
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
    # The stored conflicts are brought up to date first, so "Coming up" says what the plans
    # are now (a plan added since the last evening check is checked too).
    with st.open_store(settings.db_path, timeout_s=timeout_s, on_wait=on_wait) as s:
        plans_service.check(s, settings, athlete_id, generated_at)
    with st.open_store(settings.db_path, read_only=True, timeout_s=timeout_s, on_wait=on_wait) as s:
        day = day or most_telling_day(s, settings, athlete_id)
        built = daily_report(s, settings, athlete_id, day, generated_at=generated_at)
    rendered = built.render()
    with st.open_store(settings.db_path, timeout_s=timeout_s, on_wait=on_wait) as s:
        sql.save_report(
            s,
            athlete_id,
            day,
            rendered,
            schema_version=built.report.schema_version,
            generated_at=generated_at,
        )
    paths = write_report_files(out_dir, athlete_id, day, rendered)
    # <out_dir>/index.html lists every report in the folder, this one included.
    paths["index"] = report_index.write_index(out_dir, generated_at=generated_at)
    return ProducedReport(athlete_id, day, rendered, paths, len(built.report.flags))


def most_telling_day(store: st.Store, settings: Settings, athlete_id: str) -> date:
    """The local day with the strongest flags (alerts first), else the day of the latest activity."""
    tz = settings.athlete(athlete_id).tz
    scored: dict[date, tuple[int, int]] = {}
    for ts, severity in sql.flag_severities(store, athlete_id):
        d = ts.astimezone(tz).date()
        top, n = scored.get(d, (0, 0))
        scored[d] = (max(top, rc.SEVERITY_RANK.get(severity, 0)), n + 1)
    if scored:
        return max(scored, key=lambda d: (scored[d], d))
    last = sql.latest_activity_start(store, athlete_id)
    if last is None:
        raise ReportError(f"athlete {athlete_id!r} has no activities in the store yet")
    return last.astimezone(tz).date()
