"""FIT workout and schedule files through ingest into the plans (issue 13).

The files are written with garmin_fit_sdk's Encoder, as Garmin Connect writes them to a watch:
workouts by heart-rate range (hard), by heart-rate zone (easy) and a strength workout (leg
strength from its exercise categories), and a schedule pointing at them by serial and creation
time. They go through ``ingest_files`` into a DuckDB file; ``rebuild_fit_plans`` makes the plans,
``plans.service.check`` the conflicts. The expected instants are written out by hand from the
wall clocks and the zones' DST rules (Berlin changes on 25 Oct 2026, New York on 1 Nov 2026).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from garmin_fit_sdk import Encoder, Profile

from pipeline.config import AthleteSettings, Settings
from pipeline.fit import parse_fit
from pipeline.fit.schemas import DecodedPlanFile, plan_from_json, plan_to_json
from pipeline.ingest import ingest_files
from pipeline.ingest.outcomes import FileStatus
from pipeline.plans import service
from pipeline.plans.model import PlannedWorkout
from pipeline.store import plans_sql
from pipeline.store.db import open_store

MESG = {m["name"]: num for num, m in Profile["messages"].items()}
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
CREATED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)  # when Connect wrote the workouts
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
INTERVALS, EASY, LEGS = 501, 502, 503  # workout serial numbers


def _secs(dt: datetime) -> int:
    return int((dt - FIT_EPOCH).total_seconds())


def _local_secs(wall: datetime) -> int:
    """A FIT ``local_date_time``: the wall clock counted from the FIT epoch as if it were UTC."""
    return _secs(wall.replace(tzinfo=UTC))


class Fit:
    def __init__(self) -> None:
        self.enc = Encoder()

    def w(self, mesg: str, **fields: Any) -> Fit:
        self.enc.write_mesg({"mesg_num": MESG[mesg], **fields})
        return self

    def bytes(self) -> bytes:
        return bytes(self.enc.close())


def _file_id(fit: Fit, kind: str, serial: int, created: datetime) -> Fit:
    return fit.w(
        "file_id", type=kind, manufacturer="garmin", product=65534, serial_number=serial,
        time_created=_secs(created),
    )  # fmt: skip


def intervals_workout(serial: int = INTERVALS, created: datetime = CREATED) -> bytes:
    """10' warm-up, 6 x (800 m at 170-180 bpm, 2' recovery), 10' cool-down."""
    f = _file_id(Fit(), "workout", serial, created)
    f.w("workout", wkt_name="Intervals 6x800", sport="running", sub_sport="generic",
        num_valid_steps=5)  # fmt: skip
    f.w(
        "workout_step",
        message_index=0,
        wkt_step_name="Warm up",
        duration_type="time",
        duration_value=600_000,
        target_type="open",
        target_value=0,
        intensity="warmup",
    )
    # Heart rate as FIT writes it: bpm + 100 (fitparse 1.2.0 leaves the offset on).
    f.w(
        "workout_step",
        message_index=1,
        duration_type="distance",
        duration_value=80_000,
        target_type="heart_rate",
        target_value=0,
        custom_target_value_low=270,
        custom_target_value_high=280,
        intensity="interval",
    )
    f.w(
        "workout_step",
        message_index=2,
        duration_type="time",
        duration_value=120_000,
        target_type="open",
        target_value=0,
        intensity="recovery",
    )
    f.w(
        "workout_step",
        message_index=3,
        duration_type="repeat_until_steps_cmplt",
        duration_value=1,
        target_value=6,
    )
    f.w("workout_step", message_index=4, duration_type="time", duration_value=600_000,
        target_type="open", target_value=0, intensity="cooldown")  # fmt: skip
    return f.bytes()


def easy_workout(name: str = "Hard day") -> bytes:
    """45' in heart-rate zone 2: easy, whatever the name says."""
    f = _file_id(Fit(), "workout", EASY, CREATED)
    f.w("workout", wkt_name=name, sport="running", sub_sport="generic", num_valid_steps=1)
    f.w("workout_step", message_index=0, duration_type="time", duration_value=2_700_000,
        target_type="heart_rate", target_value=2, intensity="active")  # fmt: skip
    return f.bytes()


def legs_workout() -> bytes:
    """5 x (back squat 5 reps at 100 kg, 2' rest), 3 x 10 lunges: a heavy leg session."""
    f = _file_id(Fit(), "workout", LEGS, CREATED)
    f.w(
        "workout",
        wkt_name="Gym A",
        sport="training",
        sub_sport="strength_training",
        num_valid_steps=5,
    )
    f.w(
        "workout_step",
        message_index=0,
        duration_type="reps",
        duration_value=5,
        exercise_category="squat",
        exercise_weight=100.0,
        intensity="active",
    )
    f.w(
        "workout_step",
        message_index=1,
        duration_type="time",
        duration_value=120_000,
        intensity="rest",
    )
    f.w(
        "workout_step",
        message_index=2,
        duration_type="repeat_until_steps_cmplt",
        duration_value=0,
        target_value=5,
    )
    f.w(
        "workout_step",
        message_index=3,
        duration_type="reps",
        duration_value=10,
        exercise_category="lunge",
        intensity="active",
    )
    f.w("workout_step", message_index=4, duration_type="repeat_until_steps_cmplt",
        duration_value=3, target_value=3)  # fmt: skip
    return f.bytes()


def schedule(entries: list[tuple[int, datetime]], created: datetime, serial: int = 77) -> bytes:
    """A schedule file: (workout serial, local wall clock) entries; midnight means all day."""
    f = _file_id(Fit(), "schedules", serial, created)
    for workout, wall in entries:
        f.w("schedule", manufacturer="garmin", product=65534, serial_number=workout,
            time_created=_secs(CREATED), completed=0, type="workout",
            scheduled_time=_local_secs(wall))  # fmt: skip
    return f.bytes()


@dataclass(frozen=True)
class Week:
    """A planned week around a DST change, as wall clocks in the athlete's zone."""

    zone: str
    legs: datetime  # Saturday 18:00 (summer time)
    run_alert: datetime  # Sunday 09:00 (winter time): 15 h after the legs end, 14 h on the wall
    easy_all_day: datetime  # Monday, no time (placed at 12:00)
    run_warning: datetime  # Monday 17:30: 47.5 h after
    run_clear: datetime  # Tuesday 18:00: 72 h after (71 h on the wall): no warning


BERLIN_WEEK = Week(
    "Europe/Berlin",
    datetime(2026, 10, 24, 18, 0),
    datetime(2026, 10, 25, 9, 0),
    datetime(2026, 10, 26, 0, 0),
    datetime(2026, 10, 26, 17, 30),
    datetime(2026, 10, 27, 18, 0),
)
NEW_YORK_WEEK = Week(
    "America/New_York",
    datetime(2026, 10, 31, 18, 0),
    datetime(2026, 11, 1, 9, 0),
    datetime(2026, 11, 2, 0, 0),
    datetime(2026, 11, 2, 17, 30),
    datetime(2026, 11, 3, 18, 0),
)
# The same instants in UTC, worked out by hand: CEST = UTC+2, CET = UTC+1, EDT = UTC-4, EST = -5.
UTC_STARTS = {
    "Europe/Berlin": {
        "legs": datetime(2026, 10, 24, 16, 0, tzinfo=UTC),
        "run_alert": datetime(2026, 10, 25, 8, 0, tzinfo=UTC),
        "easy_all_day": datetime(2026, 10, 26, 11, 0, tzinfo=UTC),
        "run_warning": datetime(2026, 10, 26, 16, 30, tzinfo=UTC),
        "run_clear": datetime(2026, 10, 27, 17, 0, tzinfo=UTC),
    },
    "America/New_York": {
        "legs": datetime(2026, 10, 31, 22, 0, tzinfo=UTC),
        "run_alert": datetime(2026, 11, 1, 14, 0, tzinfo=UTC),
        "easy_all_day": datetime(2026, 11, 2, 17, 0, tzinfo=UTC),
        "run_warning": datetime(2026, 11, 2, 22, 30, tzinfo=UTC),
        "run_clear": datetime(2026, 11, 3, 23, 0, tzinfo=UTC),
    },
}


def week_entries(week: Week) -> list[tuple[int, datetime]]:
    return [
        (LEGS, week.legs),
        (INTERVALS, week.run_alert),
        (EASY, week.easy_all_day),
        (INTERVALS, week.run_warning),
        (INTERVALS, week.run_clear),
    ]


def _settings(tmp_path: Path, zone: str) -> Settings:
    return Settings(
        db_path=tmp_path / "plans.duckdb",
        data_dir=tmp_path,
        default_athlete="me",
        athletes={"me": AthleteSettings(timezone=zone, max_hr=190, resting_hr=50)},
    )


def _ingest(settings: Settings, files: dict[str, bytes], now: datetime = NOW) -> list[Any]:
    folder = settings.data_dir / f"in-{now:%H%M%S}-{len(files)}"
    folder.mkdir(exist_ok=True)
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    summary = ingest_files(settings.db_path, [(p, "me") for p in paths], now=now)
    return summary.outcomes


def _rebuild(settings: Settings, now: datetime = NOW) -> service.ImportResult:
    with open_store(settings.db_path) as store:
        return service.rebuild_fit_plans(store, settings, "me", now)


def _plans(settings: Settings) -> list[PlannedWorkout]:
    with open_store(settings.db_path, read_only=True) as store:
        return service.list_plans(store, "me")


def _check(settings: Settings, as_of: datetime) -> list[Any]:
    with open_store(settings.db_path) as store:
        return service.check(store, settings, "me", as_of)


WORKOUTS = {
    "intervals.fit": intervals_workout(),
    "easy.fit": easy_workout(),
    "legs.fit": legs_workout(),
}


def test_the_parser_hands_plan_messages_over_and_activity_files_carry_none() -> None:
    parsed = parse_fit(WORKOUTS["intervals.fit"])
    assert parsed.status == "stored" and parsed.info.file_type == "workout"
    plan = parsed.plan
    assert plan is not None and plan.workout is not None
    assert plan.file_id["serial_number"] == INTERVALS
    assert plan.file_id["time_created"] == datetime(2026, 10, 1, 8, 0)  # naive UTC, as fitparse
    assert plan.workout["wkt_name"] == "Intervals 6x800"
    assert [s["message_index"] for s in plan.workout_steps] == [0, 1, 2, 3, 4]
    assert plan.workout_steps[1]["custom_target_heart_rate_low"] == 270  # offset left on
    assert plan.workout_steps[1]["intensity"] == 5  # fitparse 1.2.0: interval comes raw
    assert plan.workout_steps[3]["repeat_steps"] == 6
    # It crosses process boundaries from the parser workers.
    assert pickle.loads(pickle.dumps(parsed)).plan == plan
    sched = parse_fit(schedule(week_entries(BERLIN_WEEK), datetime(2026, 10, 2, tzinfo=UTC)))
    assert sched.status == "stored" and sched.plan is not None and sched.plan.workout is None
    assert [m["scheduled_time"] for m in sched.plan.schedules][:2] == [
        datetime(2026, 10, 24, 18, 0),
        datetime(2026, 10, 25, 9, 0),
    ]
    run = Fit()
    _file_id(run, "activity", 9, CREATED)
    run.w("record", timestamp=_secs(CREATED), heart_rate=120)
    assert parse_fit(run.bytes()).plan is None
    # The old import path still works.
    assert service.DecodedPlanFile is DecodedPlanFile


def test_plan_messages_round_trip_through_json_exactly() -> None:
    plan = parse_fit(schedule(week_entries(BERLIN_WEEK), CREATED)).plan
    assert plan is not None
    odd = DecodedPlanFile(
        "x", {"t": datetime(2026, 1, 1, 0, 0, 0, 1), "tuple": (1, None, 2.5), "b": b"\x00\xff"},
        {"inf": float("inf"), "nested": [{"when": datetime(2026, 3, 29, 2, 30)}]},
    )  # fmt: skip
    for p in (plan, odd):
        back = plan_from_json(p.name, plan_to_json(p))
        assert back == p
        assert {k: type(v) for k, v in back.file_id.items()} == {
            k: type(v) for k, v in p.file_id.items()
        }


@pytest.mark.parametrize("week", [BERLIN_WEEK, NEW_YORK_WEEK], ids=lambda w: w.zone)
def test_workouts_and_schedule_through_ingest_across_dst(tmp_path: Path, week: Week) -> None:
    settings = _settings(tmp_path, week.zone)
    files = {**WORKOUTS, "schedule.fit": schedule(week_entries(week), CREATED + timedelta(1))}
    outcomes = {Path(o.path).name: o for o in _ingest(settings, files)}
    assert {n: (o.status, o.file_type) for n, o in outcomes.items()} == {
        "intervals.fit": (FileStatus.STORED, "workout"),
        "easy.fit": (FileStatus.STORED, "workout"),
        "legs.fit": (FileStatus.STORED, "workout"),
        "schedule.fit": (FileStatus.STORED, "schedules"),
    }
    assert "workout plan 'Intervals 6x800'" in str(outcomes["intervals.fit"].message)
    assert "schedule with 5 entries" in str(outcomes["schedule.fit"].message)
    with open_store(settings.db_path, read_only=True) as store:
        types = store.rows("SELECT original_name, file_type FROM files ORDER BY 1")
        stored = plans_sql.load_plan_files(store, "me")
    assert types == [
        ("easy.fit", "workout"),
        ("intervals.fit", "workout"),
        ("legs.fit", "workout"),
        ("schedule.fit", "schedules"),
    ]
    assert sorted(f.serial_number or 0 for f in stored) == [77, INTERVALS, EASY, LEGS]

    result = _rebuild(settings)
    assert (result.change.added, result.change.removed) == (5, 0)
    want = UTC_STARTS[week.zone]
    got = [(p.start_utc, p.kind, p.intensity, p.all_day, p.title) for p in _plans(settings)]
    assert got == [
        (want["legs"], "leg_strength", "hard", False, "Gym A"),
        (want["run_alert"], "run", "hard", False, "Intervals 6x800"),
        (want["easy_all_day"], "run", "easy", True, "Hard day"),
        (want["run_warning"], "run", "hard", False, "Intervals 6x800"),
        (want["run_clear"], "run", "hard", False, "Intervals 6x800"),
    ]
    plans = _plans(settings)
    assert all(p.start_local.tzinfo is not None for p in plans)
    assert [p.start_local.replace(tzinfo=None) for p in plans] == [
        week.legs, week.run_alert, week.easy_all_day.replace(hour=12), week.run_warning,
        week.run_clear,
    ]  # fmt: skip
    assert "170-180 bpm" in plans[1].reason  # the FIT heart-rate offset was taken off
    assert "squat" in plans[0].reason
    assert all(p.source == "fit_schedule" and "schedule.fit" in p.provenance for p in plans)

    # The check: exactly the two hard runs inside the heavy leg day's window, real hours.
    conflicts = _check(settings, want["legs"] - timedelta(hours=8))
    found = [(c.run.start_utc, c.severity, c.hours_between) for c in conflicts]
    assert found == [(want["run_alert"], "alert", 15.0), (want["run_warning"], "warning", 47.5)]
    assert all(c.leg.planned and c.leg.title == "Gym A" for c in conflicts)
    assert conflicts[0].legs_ready_utc == want["legs"] + timedelta(hours=1 + 72)

    # Rebuilding again changes nothing (the same keys come back).
    again = _rebuild(settings)
    assert (again.change.added, again.change.kept, again.change.removed) == (0, 5, 0)


def test_a_schedule_before_its_workouts_and_a_new_schedule_without_an_entry(
    tmp_path: Path,
) -> None:
    week = BERLIN_WEEK
    want = UTC_STARTS[week.zone]
    settings = _settings(tmp_path, week.zone)
    first = schedule(week_entries(week), CREATED + timedelta(days=1))
    _ingest(settings, {"schedule.fit": first})
    early = _rebuild(settings)
    assert [p.kind for p in early.plans] == ["other"] * 5  # the workouts are not known yet
    assert any("has not read" in n for n in early.notes)
    assert _check(settings, want["legs"] - timedelta(hours=8)) == []

    # The workouts come in a later run: the plans take their kinds and intensities.
    _ingest(settings, WORKOUTS, NOW + timedelta(hours=1))
    _rebuild(settings, NOW + timedelta(hours=1))
    assert [(p.kind, p.intensity) for p in _plans(settings)] == [
        ("leg_strength", "hard"), ("run", "hard"), ("run", "easy"), ("run", "hard"),
        ("run", "hard"),
    ]  # fmt: skip
    as_of = want["legs"] - timedelta(hours=8)
    assert [c.run.start_utc for c in _check(settings, as_of)] == [
        want["run_alert"],
        want["run_warning"],
    ]

    # Connect sends the calendar again without Sunday's intervals: that plan and its alert go.
    entries = [e for e in week_entries(week) if e[1] != week.run_alert]
    _ingest(settings, {"schedule-2.fit": schedule(entries, CREATED + timedelta(days=2))})
    result = _rebuild(settings, NOW + timedelta(hours=2))
    assert (result.change.added, result.change.kept, result.change.removed) == (0, 4, 1)
    assert want["run_alert"] not in [p.start_utc for p in _plans(settings)]
    with open_store(settings.db_path, read_only=True) as store:  # gone before any new check
        left = store.rows("SELECT run_start_utc FROM plan_conflicts WHERE athlete_id = 'me'")
    assert [r[0].astimezone(UTC) for r in left] == [want["run_warning"]]
    conflicts = _check(settings, as_of)
    assert [(c.run.start_utc, c.severity) for c in conflicts] == [(want["run_warning"], "warning")]
    with open_store(settings.db_path, read_only=True) as store:
        kept = store.rows("SELECT run_start_utc FROM plan_conflicts WHERE athlete_id = 'me'")
    assert [r[0].astimezone(UTC) for r in kept] == [want["run_warning"]]

    # An older schedule file arriving late does not bring the removed entry back.
    _ingest(settings, {"schedule-old.fit": schedule(week_entries(week), CREATED)})
    _rebuild(settings, NOW + timedelta(hours=3))
    assert want["run_alert"] not in [p.start_utc for p in _plans(settings)]

    # An empty calendar empties the plans.
    _ingest(settings, {"schedule-3.fit": schedule([], CREATED + timedelta(days=3))})
    assert _rebuild(settings, NOW + timedelta(hours=4)).change.removed == 4
    assert _plans(settings) == []


def test_workouts_alone_plan_nothing_and_an_edited_workout_wins(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "Europe/Berlin")
    _ingest(settings, WORKOUTS)
    alone = _rebuild(settings)
    assert alone.plans == [] and "no schedule entries" in alone.notes[0]
    assert _plans(settings) == []
    # The same workout (same serial and creation time) sent again, easier: the newest stored
    # file wins for the schedule entries that point at it.
    easier = easy_workout("Easy 45!")
    easier_file = parse_fit(easier)
    assert easier_file.plan is not None and easier_file.plan.workout is not None
    _ingest(settings, {"schedule.fit": schedule(week_entries(BERLIN_WEEK), CREATED)})
    _ingest(settings, {"easy-again.fit": easier}, NOW + timedelta(hours=1))
    _rebuild(settings, NOW + timedelta(hours=1))
    titles = {p.title for p in _plans(settings) if p.intensity == "easy"}
    assert titles == {"Easy 45!"}


def test_parser_processes_hand_the_plans_over_and_ingest_rebuilds_them(tmp_path: Path) -> None:
    # Two parser processes: the decoded messages cross the process boundary (pickled); with
    # settings given, ingest makes the plans itself (pipeline.ingest.side.rebuild_plans).
    settings = _settings(tmp_path, "America/New_York")
    folder = tmp_path / "inbox"
    folder.mkdir()
    files = {**WORKOUTS, "schedule.fit": schedule(week_entries(NEW_YORK_WEEK), CREATED)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    items = [(folder / n, "me") for n in files]
    ingest_files(settings.db_path, items, now=NOW, workers=2, settings=settings)
    want = UTC_STARTS["America/New_York"]
    got = [(p.start_utc, p.kind, p.intensity) for p in _plans(settings)]
    assert got == [
        (want["legs"], "leg_strength", "hard"),
        (want["run_alert"], "run", "hard"),
        (want["easy_all_day"], "run", "easy"),
        (want["run_warning"], "run", "hard"),
        (want["run_clear"], "run", "hard"),
    ]
