"""The report's sections of issues 13 and 14, and refresh under ``recovery.model = "fatigue"``.

* refresh: the fatigue model's flags come from the curve (rows ``fatigue_*``), the windows model
  is unchanged, and the curve is stored under both models, also when nothing new came in.
* "Coming up" (stored plan conflicts), "Legs as a curve" (levels, ready time, the 7-day plot)
  and "What your runs say" (evidence, on Sundays) in Markdown, JSON and HTML.

Fast: a small synthetic store per test, reports built from frames.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.config import Settings
from pipeline.derive import refresh as rf
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
