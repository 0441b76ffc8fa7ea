"""The report's sections of issues 13 and 14, and refresh under ``recovery.model = "fatigue"``.

* refresh: the fatigue model's flags come from the curve (rows ``fatigue_*``), the windows model
  is unchanged, and the curve is stored under both models, also when nothing new came in.
* "Coming up" (stored plan conflicts), "Legs as a curve" (levels, ready time, the 7-day plot)
  and "What your runs say" (evidence, on Sundays) in Markdown, JSON and HTML.

Fast: a small synthetic store per test, reports built from frames.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import polars as pl
import pytest

from pipeline.config import Settings
from pipeline.derive import refresh as rf
from pipeline.derive.evidence import EvidenceReport
from pipeline.plans import service as plans_service
from pipeline.report.figures import figure_style
from pipeline.report.figures_legs import RunMark, fatigue_plot
from pipeline.report.markdown import render_markdown
from pipeline.report.model import REPORT_SCHEMA_PATH, Day, Report, render_json
from pipeline.report.palette import INTENSITY_COLOURS, REGION_COLOURS, SEVERITY_COLOURS
from pipeline.report.produce import daily_report
from pipeline.report.sections import (
    ComingUpStatus,
    coming_up,
    coming_up_sentence,
    difference_text,
    leg_fatigue,
    runs_evidence,
    suggestion_lines,
)
from pipeline.store import fatigue_sql as fq
from pipeline.store.db import Store, open_store

ATHLETE = "me"
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _settings(db: Path, model: str) -> Settings:
    return Settings.model_validate(
        {
            "db_path": db,
            "default_athlete": ATHLETE,
            "athletes": {ATHLETE: {"max_hr": 190, "recovery": {"model": model}}},
        }
    )


class _Raw:
    """Core rows only (activities, sets, HR samples): refresh classifies and measures them."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, **row: Any) -> None:
        self.rows.setdefault(table, []).append({"athlete_id": ATHLETE, **row})

    def activity(self, aid: str, start: datetime, end: datetime, sport: str, name: str) -> None:
        self.add(
            "activities",
            activity_id=aid,
            file_sha256=f"sha-{aid}",
            session_index=0,
            sport=sport,
            sub_sport="strength_training" if sport == "training" else "generic",
            name=name,
            start_utc=start,
            end_utc=end,
            elapsed_s=(end - start).total_seconds(),
            timer_s=(end - start).total_seconds(),
            summary_source="session",
            time_plausible=True,
        )

    def squats(self, aid: str, start: datetime, sets: int, reps: int, kg: float) -> datetime:
        t = start
        for i in range(sets):
            self.add(
                "strength_sets",
                activity_id=aid,
                set_index=i,
                set_type="active",
                start_utc=t,
                duration_s=40.0,
                repetitions=reps,
                weight_kg=kg,
                category="squat",
                exercise_name="barbell_back_squat",
            )
            t += timedelta(minutes=3)
        self.activity(aid, start, t, "training", "Squats")
        return t

    def hard_run(self, aid: str, start: datetime, minutes: int = 40) -> None:
        end = start + timedelta(minutes=minutes)
        for s in range(0, minutes * 60, 5):
            self.add(
                "hr_samples",
                activity_id=aid,
                ts=start + timedelta(seconds=s),
                bpm=178,
                source="record",
            )
        last = start + timedelta(seconds=minutes * 60 - 5)
        self.add("hr_spans", activity_id=aid, first_utc=start, last_utc=last, samples=minutes * 12)
        self.activity(aid, start, end, "running", "Intervals")

    def write(self, db: Path, now: datetime) -> None:
        with open_store(db) as store:
            store.migrate(now)
            with store.transaction():
                for table, rows in self.rows.items():
                    store.insert_frame(table, pl.DataFrame(rows, infer_schema_length=None))


def _lifter(final: tuple[int, int, float]) -> tuple[_Raw, datetime]:
    """Three weekly 5 x 5 at 100 kg (accustomed, e1RM 116.7 kg), then ``final`` a week later,
    and a hard run 12 h after it. Returns the rows and the final session's end."""
    w = _Raw()
    for week in range(3):
        w.squats(f"legs{week}", T0 + timedelta(weeks=week, hours=18), 5, 5, 100.0)
    end = w.squats("final", T0 + timedelta(weeks=3, hours=18), *final)
    w.hard_run("run12", end + timedelta(hours=12))
    return w, end


def _flags(store: Store) -> pl.DataFrame:
    return store.frame(
        "SELECT run_activity_id, leg_activity_id, rule, severity, intense_ok_from_utc "
        "FROM recovery_flags WHERE athlete_id = ? ORDER BY run_start_utc",
        [ATHLETE],
    )


def _refreshed(tmp_path: Path, name: str, final: tuple[int, int, float], model: str) -> Any:
    db = tmp_path / f"{name}.duckdb"
    w, end = _lifter(final)
    now = end + timedelta(hours=13)
    w.write(db, now)
    rf.refresh_store(_settings(db, model), now=now)
    with open_store(db, read_only=True) as store:
        return _flags(store), fq.latest_legs_ready(store, ATHLETE), end


HEAVY, LIGHT = (6, 4, 105.0), (4, 10, 70.0)  # 90 % and 60 % of the e1RM


def test_fatigue_model_flags_from_the_curve_and_heavy_keeps_legs_longer(tmp_path: Path) -> None:
    heavy_flags, heavy_ready, heavy_end = _refreshed(tmp_path, "heavy", HEAVY, "fatigue")
    light_flags, light_ready, light_end = _refreshed(tmp_path, "light", LIGHT, "fatigue")
    for flags in (heavy_flags, light_flags):
        # A run 12 h after either session is flagged, by the curve's rules.
        assert flags["run_activity_id"].to_list() == ["run12"]
        assert flags["leg_activity_id"].to_list() == ["final"]
        assert flags["rule"][0].startswith("fatigue_")
    assert heavy_flags["severity"][0] == "alert"
    assert light_flags["severity"][0] == "warning"
    # The heavy session keeps the legs not ready longer, in the stored ready row and the flag.
    assert heavy_ready is not None and light_ready is not None
    heavy_h = (heavy_ready["ready_at_utc"] - heavy_end).total_seconds() / 3600
    light_h = (light_ready["ready_at_utc"] - light_end).total_seconds() / 3600
    assert heavy_h > 48 > light_h
    assert heavy_flags["intense_ok_from_utc"][0] > light_flags["intense_ok_from_utc"][0] + (
        heavy_end - light_end
    )


def test_windows_model_keeps_its_rules_and_the_curve_is_stored_too(tmp_path: Path) -> None:
    flags, ready, _ = _refreshed(tmp_path, "windows", LIGHT, "windows")
    assert flags["run_activity_id"].to_list() == ["run12"]
    assert not any(r.startswith("fatigue_") for r in flags["rule"].to_list())
    assert ready is not None  # refresh_fatigue ran under the windows model as well


def test_the_curve_is_refreshed_when_nothing_new_came_in(tmp_path: Path) -> None:
    db = tmp_path / "again.duckdb"
    w, end = _lifter(HEAVY)
    w.write(db, end)
    settings = _settings(db, "fatigue")
    rf.refresh_store(settings, now=end + timedelta(hours=13))
    later = end + timedelta(days=5)
    out = rf.refresh_store(settings, now=later)
    assert out[ATHLETE]["classified"] == 0  # nothing new
    with open_store(db, read_only=True) as store:
        row = fq.latest_legs_ready(store, ATHLETE)
    assert row is not None and row["as_of_utc"] == later and row["ready_at_utc"] is None


# -- the report's sections, through the store -------------------------------------------------


@pytest.fixture(scope="module")
def planned_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, datetime]:
    """The heavy lifter refreshed 13 h after the final session (a hard run 12 h after it), with
    a planned hard run ~38 h and a planned easy run ~62 h after it, checked. Returns the store,
    the final session's end and the check's instant."""
    db = tmp_path_factory.mktemp("planned") / "planned.duckdb"
    w, end = _lifter(HEAVY)
    now = end + timedelta(hours=13)
    w.write(db, now)
    settings = _settings(db, "windows")
    rf.refresh_store(settings, now=now)
    with open_store(db) as store:
        for hours, intensity, title in ((38, "hard", "Run: 6x800m"), (62, "easy", "Run: easy")):
            when = end + timedelta(hours=hours)
            plans_service.add_manual(
                store, settings, ATHLETE, when, "run", now, intensity=intensity, title=title
            )
        plans_service.check(store, settings, ATHLETE, now)
    return db, end, now


def _day_report(db: Path, day: date, generated_at: datetime) -> Report:
    with open_store(db, read_only=True) as store:
        built = daily_report(
            store, _settings(db, "windows"), ATHLETE, day, generated_at=generated_at
        )
    return built.report


def _validate(report: Report) -> dict[str, Any]:
    data = json.loads(render_json(report))
    schema = json.loads(REPORT_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    return data


def test_coming_up_shows_the_stored_conflict_of_a_planned_hard_run(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, end, now = planned_store
    report = _day_report(db, now.date(), now)
    c = report.coming_up
    assert c is not None and c.status == ComingUpStatus.CONFLICTS
    assert (c.planned, c.planned_runs, c.horizon_days) == (2, 2, 3)
    [conflict] = c.conflicts  # the easy run is no conflict
    assert conflict.run_title == "Run: 6x800m" and conflict.severity == "warning"
    assert conflict.hours_between == pytest.approx(38.0, abs=0.1)
    # A heavy session: the legs are ready 72 h after its end, and the move says so.
    assert conflict.legs_ready == end + timedelta(hours=72)
    assert "move" in conflict.suggestion
    data = _validate(report)
    assert data["coming_up"]["conflicts"][0]["hours_between"] == conflict.hours_between
    md = render_markdown(report)
    coming = md[md.index("## Coming up") : md.index("## Sessions")]
    assert "1 conflict among 2 planned sessions (2 runs)" in coming
    assert "**WARNING** Run: 6x800m" in coming and "38.0 h after 'Squats'" in coming
    assert "Suggestion: move" in coming


def test_coming_up_tells_nothing_planned_from_no_conflicts(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, end, now = planned_store
    # Ten days later nothing is planned; the check found nothing there either.
    later = now + timedelta(days=10)
    quiet = _day_report(db, later.date(), later).coming_up
    assert quiet is not None and quiet.status == ComingUpStatus.NOTHING_PLANNED
    assert coming_up_sentence(quiet).startswith("Nothing planned from")
    # The day of the easy run only (the hard one is before it): planned, nothing conflicts.
    easy_day = (end + timedelta(hours=62)).date()
    calm = coming_up(
        pl.DataFrame(),
        start=datetime.combine(easy_day, datetime.min.time(), UTC),
        end=datetime.combine(easy_day, datetime.min.time(), UTC) + timedelta(days=4),
        horizon_days=3,
        planned_kinds=["run"],
        tz=UTC,
    )
    assert calm.status == ComingUpStatus.NO_CONFLICTS
    assert coming_up_sentence(calm).startswith("No conflicts in the next 3 days: 1 planned")


def test_legs_as_a_curve_reads_the_stored_doses_as_of_the_report(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, _, now = planned_store
    report = _day_report(db, now.date(), now)
    f = report.leg_fatigue
    assert f is not None and f.model == "windows" and f.status == "recovering"
    assert f.as_of == now.replace(microsecond=0)  # today's report: as of its making
    with open_store(db, read_only=True) as store:
        stored = fq.latest_legs_ready(store, ATHLETE)  # refresh's row, at the same instant
    assert stored is not None and f.ready_at == stored["ready_at_utc"].replace(microsecond=0)
    levels = {lv.region: lv for lv in f.levels}
    assert levels["quadriceps"].above_threshold
    assert levels["quadriceps"].level == pytest.approx(stored["quadriceps"], abs=1e-3)
    # A week later, the report of that day says ready: its levels are as of its own end.
    later = now + timedelta(days=7)
    ready = _day_report(db, later.date(), later).leg_fatigue
    assert ready is not None and ready.status == "ready" and ready.ready_at is None
    assert all(not lv.above_threshold for lv in ready.levels)
    data = _validate(report)
    assert data["leg_fatigue"]["limiting_region"] == "quadriceps"
    md = render_markdown(report)
    assert "## Legs as a curve" in md and "Legs ready at" in md and "quadriceps 0." in md


def test_the_html_plots_the_curve_with_the_flagged_run_highlighted(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, _, now = planned_store
    with open_store(db, read_only=True) as store:
        built = daily_report(store, _settings(db, "windows"), ATHLETE, now.date(), generated_at=now)
    assert built.fatigue_curve is not None and built.fatigue_curve.height > 0
    page = built.render()["html"]
    assert "<h2>Legs as a curve</h2>" in page
    assert 'id="legs-wide-' in page and 'id="legs-narrow-' in page
    assert "Flagged run: alert</span>" in page and "Threshold: ready below it</span>" in page


def test_a_flagged_run_is_drawn_in_its_severity_colour() -> None:
    day_start = datetime(2026, 3, 24, tzinfo=UTC)
    day = Day(day_start, day_start + timedelta(days=1), 24.0)
    times = [day_start - timedelta(days=2) + timedelta(hours=h) for h in range(0, 73)]
    curve = pl.DataFrame(
        {
            "time_utc": times * 3,
            "region": [r for r in REGION_COLOURS for _ in times],
            "fatigue": [0.8 * 0.97**i for i in range(len(times))] * 3,
        },
        schema={"time_utc": pl.Datetime("us", "UTC"), "region": pl.String, "fatigue": pl.Float64},
    )
    run_at = day_start + timedelta(hours=8)
    warning = SEVERITY_COLOURS["warning"]
    with figure_style():
        flagged = fatigue_plot(
            day, ZoneInfo("UTC"), curve, 0.1, [RunMark(run_at, "hard", "warning")]
        )
        plain = fatigue_plot(day, ZoneInfo("UTC"), curve, 0.1, [RunMark(run_at, "hard", None)])
    assert warning in flagged.wide and warning in flagged.narrow
    assert warning not in plain.wide and INTENSITY_COLOURS["hard"] in plain.wide


def test_what_your_runs_say_is_in_the_sunday_report_only(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, _, now = planned_store
    assert now.date().weekday() != 6
    weekday = _day_report(db, now.date(), now)
    assert weekday.runs_evidence is None
    assert "What your runs say" not in render_markdown(weekday)
    assert "runs_evidence" not in _validate(weekday)


def test_what_your_runs_say_gives_n_and_never_a_bare_number(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, _, now = planned_store
    sunday = now.date() + timedelta(days=6 - now.date().weekday())
    report = _day_report(db, sunday, now)
    e = report.runs_evidence
    assert e is not None and e.applied is False
    assert len(e.rows) == 9  # 3 measures x 3 buckets
    # The one run has no laps to measure: nothing has enough data, so no number is shown.
    assert e.runs_used == 0
    assert all(r.difference is None and r.verdict == "not enough data" for r in e.rows)
    data = _validate(report)
    assert data["runs_evidence"]["applied"] is False
    md = render_markdown(report)
    says = md[md.index("## What your runs say") :]
    assert says.count("not enough data") >= 9 and "No personal window suggested" in says
    assert md.index("## What your runs say") > md.index("## Heart-rate profile")


def test_a_difference_is_shown_with_its_interval() -> None:
    from pipeline.derive.evidence import Bucket, BucketResult, Difference, Measure, Verdict

    row = runs_evidence(
        EvidenceReport(
            (
                BucketResult(
                    Measure.EFFICIENCY,
                    Bucket.H0_24,
                    12,
                    40,
                    Difference(-5.71, -7.04, -4.18, "%"),
                    Verdict.WORSE,
                ),
            ),
            (),
            48.0,
            52,
            0,
            8,
            0.95,
            1 - 0.05 / 9,
        )
    )
    assert difference_text(row.rows[0]) == "-5.7 % [-7.0, -4.2]"
    assert suggestion_lines(row)[-1].startswith("Suggested personal window: 48 h, never applied")


def test_a_report_without_the_sections_keeps_the_1_1_layout(
    planned_store: tuple[Path, datetime, datetime],
) -> None:
    db, _, now = planned_store
    bare = dataclasses.replace(
        _day_report(db, now.date(), now), coming_up=None, leg_fatigue=None, runs_evidence=None
    )
    data = _validate(bare)
    assert not {"coming_up", "leg_fatigue", "runs_evidence"} & set(data)
    md = render_markdown(bare)
    assert "## Coming up" not in md and "## Legs as a curve" not in md
    assert "What your runs say" not in md


def test_legs_without_stored_doses_say_so(planned_store: tuple[Path, datetime, datetime]) -> None:
    db, _, now = planned_store
    report = dataclasses.replace(
        _day_report(db, now.date(), now), leg_fatigue=leg_fatigue(None, "fatigue", UTC)
    )
    data = _validate(report)
    assert data["leg_fatigue"]["status"] == "unknown" and data["leg_fatigue"]["levels"] == []
    md = render_markdown(report)
    assert "No leg fatigue stored yet" in md and "The curve decides the flags" in md
