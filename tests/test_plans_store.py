"""Planned workouts in the store: a calendar read again replaces its plans, the check stores
conflicts exactly on the planned hard runs (DST-correct), and removed plans leave none behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from pipeline.config import AthleteSettings, Settings
from pipeline.plans import service as sv
from pipeline.plans.model import PlanFileError, manual_plan
from pipeline.store import plans_sql as ps
from pipeline.store.db import Store, open_store

BERLIN = ZoneInfo("Europe/Berlin")
# Saturday 24 Oct 2026, 18:00 in Berlin (CEST); the clocks go back that night at 03:00.
AS_OF = datetime(2026, 10, 24, 16, 0, tzinfo=UTC)


def settings(tmp_path: Path, **plans: object) -> Settings:
    return Settings.model_validate(
        {
            "db_path": tmp_path / "legday.duckdb",
            "data_dir": tmp_path,
            "default_athlete": "ana",
            "athletes": {"ana": AthleteSettings(timezone="Europe/Berlin")},
            "plans": plans,
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "legday.duckdb") as s:
        s.migrate(AS_OF)
        yield s


def event(uid: str, summary: str, start: str, end: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261001T000000Z\r\nSUMMARY:{summary}\r\n"
        f"DTSTART;TZID=Europe/Berlin:{start}\r\nDTEND;TZID=Europe/Berlin:{end}\r\nEND:VEVENT\r\n"
    )


LEGS = event("legs-1", "Strength: Leg day", "20261024T183000", "20261024T193000")
HARD = event("run-1", "Run: 6x800m", "20261025T080000", "20261025T090000")
EASY = event("run-2", "Run: easy 40'", "20261027T073000", "20261027T081000")


def calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nX-WR-CALNAME:Training\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def add_done_leg_session(store: Store, activity_id: str, start: datetime, end: datetime) -> None:
    """A completed leg session as ingest and the refresh leave it (activity + classification)."""
    store.insert_frame(
        "activities",
        pl.DataFrame(
            [{"athlete_id": "ana", "activity_id": activity_id, "file_sha256": "f" * 64,
              "session_index": 0, "sport": "training", "name": "Gym legs", "start_utc": start,
              "end_utc": end, "summary_source": "session"}]
        ),
    )  # fmt: skip
    store.insert_frame(
        "classifications",
        pl.DataFrame(
            [{"athlete_id": "ana", "activity_id": activity_id, "kind": "leg_strength",
              "heavy": False, "leg_score": 8.0, "reason": "test", "computed_utc": AS_OF}]
        ),
    )  # fmt: skip


def test_migration_creates_the_plan_relations(store: Store) -> None:
    names = set(store.relations())
    assert {"planned_workouts", "plan_conflicts", "notifications_sent"} <= names


def test_a_plan_reads_back_as_written_across_dst(store: Store) -> None:
    # 02:30 on 25 Oct happens twice in Berlin; the second one (fold=1) is 01:30 UTC.
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    plan = manual_plan("ana", second, "run", BERLIN, intensity="hard", title="night run")
    day = manual_plan("ana", date(2026, 10, 26), "leg_strength", BERLIN, all_day_hour=7)
    ps.save_plan(store, plan, AS_OF)
    ps.save_plan(store, day, AS_OF)
    back = ps.load_plans(store, "ana")
    assert back == [plan, day]
    assert back[0].start_utc == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert back[0].start_local.utcoffset() == timedelta(hours=1)  # CET, the repeated hour
    assert (back[1].all_day, back[1].start_local.hour) == (True, 7)
    assert getattr(back[1].start_local.tzinfo, "key", None) == "Europe/Berlin"


def test_a_calendar_read_again_replaces_what_it_gave(tmp_path: Path, store: Store) -> None:
    cfg = settings(tmp_path)
    manual = manual_plan("ana", datetime(2026, 10, 26, 7, 0), "run", BERLIN, intensity="easy")
    ps.save_plan(store, manual, AS_OF)
    first = sv.import_ics(store, cfg, "ana", calendar(LEGS, HARD, EASY), "t.ics", AS_OF)
    assert (first.change.feed, first.change.added, first.change.removed) == ("Training", 3, 0)
    second = sv.import_ics(store, cfg, "ana", calendar(HARD, EASY), "t.ics", AS_OF)
    assert (second.change.added, second.change.kept, second.change.removed) == (0, 2, 1)
    titles = [p.title for p in ps.load_plans(store, "ana")]
    assert titles == ["Run: 6x800m", "run", "Run: easy 40'"]  # the manual plan stays
    # An empty export of the same calendar empties it (and only it).
    third = sv.import_ics(store, cfg, "ana", calendar(), "t.ics", AS_OF)
    assert third.change.removed == 2
    assert [p.plan_key for p in ps.load_plans(store, "ana")] == [manual.plan_key]


def test_a_bad_event_changes_nothing(tmp_path: Path, store: Store) -> None:
    cfg = settings(tmp_path)
    sv.import_ics(store, cfg, "ana", calendar(LEGS, HARD), "t.ics", AS_OF)
    broken = event("bad-1", "Run: tempo", "2026-10-26 xx", "20261026T090000")
    with pytest.raises(PlanFileError, match="bad-1"):
        sv.import_ics(store, cfg, "ana", calendar(broken), "t.ics", AS_OF)
    assert len(ps.load_plans(store, "ana")) == 2


def test_check_stores_the_conflict_and_forgets_it_when_the_leg_day_goes(
    tmp_path: Path, store: Store
) -> None:
    cfg = settings(tmp_path)
    sv.import_ics(store, cfg, "ana", calendar(LEGS, HARD, EASY), "t.ics", AS_OF)
    [c] = sv.check(store, cfg, "ana", AS_OF)
    assert (c.run.title, c.leg.title, c.leg.planned) == ("Run: 6x800m", "Strength: Leg day", True)
    # 19:30 CEST -> 08:00 CET is 12.5 h on the wall clock but 13.5 h of real time.
    assert (c.hours_between, c.severity, c.rule) == (13.5, "alert", "intense_24h")
    assert c.swap_with is not None and c.swap_with.title == "Run: easy 40'"
    stored = ps.conflicts_frame(store, "ana", since=AS_OF)
    assert stored.select("finding_key", "severity", "hours_between").rows() == [
        (c.finding_key, "alert", 13.5)
    ]
    assert stored["swap_plan_key"].to_list() == [c.swap_with.plan_key]
    # The leg day is taken out of the calendar: no conflict is left behind.
    sv.import_ics(store, cfg, "ana", calendar(HARD, EASY), "t.ics", AS_OF)
    assert sv.check(store, cfg, "ana", AS_OF) == []
    assert ps.conflicts_frame(store, "ana", since=AS_OF).height == 0


def test_a_completed_leg_session_counts(tmp_path: Path, store: Store) -> None:
    cfg = settings(tmp_path, horizon_days=1)
    add_done_leg_session(store, "act-legs", AS_OF - timedelta(hours=2), AS_OF - timedelta(hours=1))
    run = manual_plan("ana", datetime(2026, 10, 25, 11, 0), "run", BERLIN, intensity="hard")
    late = manual_plan("ana", datetime(2026, 10, 27, 11, 0), "run", BERLIN, intensity="hard")
    ps.save_plan(store, run, AS_OF)
    ps.save_plan(store, late, AS_OF)
    [c] = sv.check(store, cfg, "ana", AS_OF)  # `late` is past the 1-day horizon
    assert (c.run.plan_key, c.leg.session_id, c.leg.planned) == (run.plan_key, "act-legs", False)
    assert (c.hours_between, c.rule) == (19.0, "intense_24h")  # 15:00Z -> 10:00Z next day
    # Three days: a run 40 h after is a warning; the one 67 h after is clear (48 h window; a
    # store without earlier history is no evidence of a layoff, so nothing is unaccustomed).
    mid = manual_plan("ana", datetime(2026, 10, 26, 8, 0), "run", BERLIN, intensity="hard")
    ps.save_plan(store, mid, AS_OF)
    wider = sv.check(store, cfg, "ana", AS_OF, horizon_days=3)
    assert [(x.run.plan_key, x.hours_between, x.rule, x.severity) for x in wider] == [
        (run.plan_key, 19.0, "intense_24h", "alert"),
        (mid.plan_key, 40.0, "intense_48h", "warning"),
    ]
    assert late.plan_key not in {x.run.plan_key for x in wider}


def test_manual_plans_add_replace_and_remove(tmp_path: Path, store: Store) -> None:
    cfg = settings(tmp_path)
    when = sv.parse_when("tomorrow 07:30", date(2026, 10, 24))
    plan, replaced = sv.add_manual(store, cfg, "ana", when, "run", AS_OF, intensity="hard")
    assert not replaced and plan.start_local == datetime(2026, 10, 25, 7, 30, tzinfo=BERLIN)
    again, replaced = sv.add_manual(store, cfg, "ana", when, "run", AS_OF, title="6x800m")
    assert replaced and again.plan_key == plan.plan_key
    assert [p.title for p in sv.list_plans(store, "ana")] == ["6x800m"]
    with pytest.raises(PlanFileError, match="unknown kind 'swim'"):
        sv.add_manual(store, cfg, "ana", when, "swim", AS_OF)
    with pytest.raises(PlanFileError, match="no plan of 'ana' has a key starting with 'zzz'"):
        sv.remove_plan(store, "ana", "zzz")
    assert sv.remove_plan(store, "ana", plan.plan_key[:9]).plan_key == plan.plan_key
    assert sv.list_plans(store, "ana") == []


def test_parse_when() -> None:
    today = date(2026, 10, 24)
    assert sv.parse_when("2026-10-31", today) == date(2026, 10, 31)
    assert sv.parse_when("2026-10-31 08:00", today) == datetime(2026, 10, 31, 8, 0)
    assert sv.parse_when("2026-10-31T08:00", today) == datetime(2026, 10, 31, 8, 0)
    assert sv.parse_when("today", today) == today
    with pytest.raises(PlanFileError, match="cannot read the time 'next friday'"):
        sv.parse_when("next friday", today)


def test_fit_schedule_messages_become_plans(tmp_path: Path, store: Store) -> None:
    """Decoded dicts as fitparse gives them: a workout file and a schedule file pointing at it."""
    cfg = settings(tmp_path)
    created = datetime(2026, 10, 1, 8, 0)
    steps = [
        {"message_index": 0, "duration_type": "time", "duration_time": 600.0,
         "target_type": "open", "intensity": "warmup"},
        {"message_index": 1, "duration_type": "distance", "duration_distance": 800.0,
         "target_type": "heart_rate", "target_hr_zone": 0, "custom_target_heart_rate_low": 270,
         "custom_target_heart_rate_high": 280, "intensity": 5},
        {"message_index": 2, "duration_type": "time", "duration_time": 120.0,
         "target_type": "open", "intensity": 4},
        {"message_index": 3, "duration_type": "repeat_until_steps_cmplt", "duration_step": 1,
         "repeat_steps": 6},
    ]  # fmt: skip
    workout = sv.DecodedPlanFile(
        "6x800.fit",
        {"type": "workout", "serial_number": 123, "time_created": created},
        workout={"wkt_name": "6x800", "sport": "running"},
        workout_steps=steps,
    )
    schedule = sv.DecodedPlanFile(
        "schedule.fit",
        {"type": "schedules", "serial_number": 1, "time_created": created},
        schedules=[
            {
                "serial_number": 123,
                "time_created": created,
                "type": "workout",
                "completed": False,
                "scheduled_time": datetime(2026, 10, 25, 8, 0),
            },
            {
                "serial_number": 999,
                "time_created": created,
                "type": "workout",
                "completed": False,
                "scheduled_time": datetime(2026, 10, 26, 0, 0),
            },
        ],
    )
    result = sv.import_fit_messages(store, cfg, "ana", [workout, schedule], AS_OF)
    first, unknown = result.plans
    assert (first.title, first.kind, first.intensity) == ("6x800", "run", "hard")
    assert first.start_local == datetime(2026, 10, 25, 8, 0, tzinfo=BERLIN)
    assert unknown.kind == "other" and "has not read" in result.notes[0]
    assert result.change.added == 2
    alone = sv.import_fit_messages(store, cfg, "ana", [workout], AS_OF)
    assert alone.plans == [] and "6x800.fit" in alone.notes[0]
    assert len(ps.load_plans(store, "ana")) == 2  # a workout file alone changes nothing
