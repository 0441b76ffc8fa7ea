"""Planned workouts: iCalendar reading, text classification, FIT workout/schedule decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import IntensitySettings
from pipeline.derive.metrics import HrProfile
from pipeline.plans.fit import PlanZones, WorkoutDecision, plan_from_workout
from pipeline.plans.ics import read_ics, read_ics_report
from pipeline.plans.model import (
    PlanFileError,
    PlannedWorkout,
    PlanSource,
    local_start,
    manual_plan,
    replace_feed,
)
from pipeline.plans.schedule import plans_from_schedule, workout_ref
from pipeline.plans.text import classify_text

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# HRmax 190, rest 50: hrmax zones Z2 from 114, Z3 133, Z4 152, Z5 171 bpm.
PROFILE = HrProfile(190, "configured", 50, "configured", 171, "estimated", None)
ZONES = PlanZones(PROFILE, "hrmax", threshold_speed_mps=1000 / 240)  # threshold pace 4:00/km


def ics(*events: str, name: str = "Training") -> bytes:
    body = "\n".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT" for e in events)
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//legday tests//EN\n"
        f"X-WR-CALNAME:{name}\n{body}\nEND:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n").encode()


# Around the 2026-10-25 change in Europe (03:00 CEST -> 02:00 CET); New York changes 2026-11-01.
EVENTS = (
    "UID:legs-1\nDTSTART;TZID=Europe/Berlin:20261024T180000\n"
    "DTEND;TZID=Europe/Berlin:20261024T191500\nSUMMARY:Leg day\nDESCRIPTION:Back squat 5x5",
    "UID:run-utc\nDTSTART:20261025T090000Z\nDTEND:20261025T100000Z\nSUMMARY:Run: 6x800m",
    "UID:run-float\nDTSTART:20261026T070000\nSUMMARY:Easy run\nDESCRIPTION:recovery, zone 2",
    "UID:run-allday\nDTSTART;VALUE=DATE:20261027\nSUMMARY:Tempo 3x10'",
    "UID:gone\nDTSTART:20261027T170000Z\nSUMMARY:Intervals\nSTATUS:CANCELLED",
)


def by_uid(plans: list[PlannedWorkout]) -> dict[str, PlannedWorkout]:
    return {p.provenance.split("UID ")[1].split(",")[0]: p for p in plans}


def test_ics_timed_and_all_day_across_dst_in_berlin() -> None:
    plans = by_uid(read_ics(ics(*EVENTS), BERLIN, athlete_id="ana"))
    assert set(plans) == {"legs-1", "run-utc", "run-float", "run-allday"}  # cancelled dropped
    legs = plans["legs-1"]
    assert legs.start_utc == datetime(2026, 10, 24, 16, 0, tzinfo=UTC)  # CEST = UTC+2
    assert legs.duration == timedelta(hours=1, minutes=15)
    assert (legs.kind, legs.all_day, legs.source) == ("leg_strength", False, PlanSource.ICS)
    utc_run = plans["run-utc"]
    assert utc_run.start_local.utcoffset() == timedelta(hours=1)  # after the change: CET
    assert utc_run.start_local.hour == 10
    assert (utc_run.kind, utc_run.intensity) == ("run", "hard")
    floating = plans["run-float"]  # a wall-clock time in the athlete's zone
    assert floating.start_utc == datetime(2026, 10, 26, 6, 0, tzinfo=UTC)
    assert (floating.intensity, floating.all_day) == ("easy", False)
    all_day = plans["run-allday"]
    assert all_day.all_day and all_day.duration is None
    assert all_day.start_local == datetime(2026, 10, 27, 12, 0, tzinfo=BERLIN)
    assert all_day.start_utc == datetime(2026, 10, 27, 11, 0, tzinfo=UTC)
    assert all_day.intensity == "hard" and "tempo" in all_day.reason
    assert all(p.athlete_id == "ana" and p.feed == "Training" for p in plans.values())


def test_ics_same_file_in_new_york() -> None:
    plans = by_uid(read_ics(ics(*EVENTS), NEW_YORK, all_day_hour=6))
    # Absolute instants stay where they are; only their local reading changes.
    assert plans["legs-1"].start_utc == datetime(2026, 10, 24, 16, 0, tzinfo=UTC)
    assert plans["legs-1"].start_local.hour == 12  # EDT = UTC-4
    assert plans["run-utc"].start_local == datetime(2026, 10, 25, 5, 0, tzinfo=NEW_YORK)
    # Floating and all-day events are New York wall-clock times (EDT until 1 November).
    assert plans["run-float"].start_utc == datetime(2026, 10, 26, 11, 0, tzinfo=UTC)
    assert plans["run-allday"].start_utc == datetime(2026, 10, 27, 10, 0, tzinfo=UTC)
    assert plans["run-allday"].start_local.hour == 6


def test_ics_recurring_expanded_with_exdate_and_override() -> None:
    data = ics(
        "UID:weekly\nDTSTART;TZID=Europe/Berlin:20261020T070000\nRRULE:FREQ=WEEKLY;COUNT=5\n"
        "EXDATE;TZID=Europe/Berlin:20261103T070000\nSUMMARY:Intervals 5x1000m",
        "UID:weekly\nRECURRENCE-ID;TZID=Europe/Berlin:20261110T070000\n"
        "DTSTART;TZID=Europe/Berlin:20261111T180000\nSUMMARY:Easy run",
    )
    plans = read_ics(data, BERLIN, expand_from=datetime(2026, 10, 19, tzinfo=UTC), expand_days=60)
    got = [(p.start_local.replace(tzinfo=None), p.intensity) for p in plans]
    assert got == [
        (datetime(2026, 10, 20, 7), "hard"),
        (datetime(2026, 10, 27, 7), "hard"),  # same wall clock after the DST change
        (datetime(2026, 11, 11, 18), "easy"),  # the moved instance
        (datetime(2026, 11, 17, 7), "hard"),
    ]
    assert plans[1].start_utc - plans[0].start_utc == timedelta(days=7, hours=1)
    assert len({p.plan_key for p in plans}) == 4
    window = read_ics(data, BERLIN, expand_from=datetime(2026, 10, 26, tzinfo=UTC), expand_days=7)
    assert [p.start_local.day for p in window if p.intensity == "hard"] == [27]


def test_ics_keys_are_stable_and_a_removed_event_disappears() -> None:
    first = read_ics(ics(*EVENTS), BERLIN)
    again = read_ics(ics(*EVENTS), BERLIN)
    assert [p.plan_key for p in first] == [p.plan_key for p in again]
    moved = EVENTS[1].replace("20261025T090000Z", "20261026T170000Z")
    second = read_ics(ics(EVENTS[0], moved, EVENTS[2]), BERLIN)
    manual = manual_plan("default", datetime(2026, 10, 30, 7), "run", BERLIN, intensity="hard")
    merged = replace_feed([*first, manual], second, "Training")
    assert len(merged) == 4  # 3 from the new read + the manual plan
    assert manual in merged
    keys = {p.plan_key for p in merged}
    assert by_uid(first)["run-utc"].plan_key in keys  # the moved event keeps its key...
    assert by_uid(first)["run-allday"].plan_key not in keys  # ...the removed one is gone
    assert by_uid(merged[:3] + merged[4:])["run-utc"].start_utc.day == 26


def test_ics_rejects_garbage() -> None:
    with pytest.raises(PlanFileError, match="iCalendar"):
        read_ics(b"\x00\x01not a calendar", BERLIN)


def test_local_start_spring_gap_moves_forward() -> None:
    local, utc, all_day = local_start(datetime(2026, 3, 29, 2, 30), BERLIN)
    assert utc == datetime(2026, 3, 29, 1, 30, tzinfo=UTC) and local.hour == 3
    assert not all_day
    assert local_start(date(2026, 3, 29), BERLIN, 7)[1] == datetime(2026, 3, 29, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("summary", "description", "kind", "intensity", "word"),
    [
        ("Run: 6x800m", "", "run", "hard", "6x800m"),
        ("Tempo run", "", "run", "hard", "tempo"),
        ("Threshold 2x20'", "", "run", "hard", "threshold"),
        ("VO2max session", "5 x 3 min", "run", "hard", "vo2max"),
        ("Fartlek", "", "run", "hard", "fartlek"),
        ("Hill repeats", "", "run", "hard", "hill repeats"),
        ("Run: long easy", "", "run", "easy", "long easy"),
        ("Recovery", "", "run", "easy", "recovery"),
        ("Easy 45'", "warm up, 6x100m strides optional", "run", "easy", "easy"),
        ("Long run", "", "run", "moderate", "long run"),
        ("Run", "", "run", "unknown", "run"),
        ("Leg day", "", "leg_strength", "unknown", "leg day"),
        ("Squats + lunges", "", "leg_strength", "unknown", "squats"),
        ("Lower body", "heavy 3x5", "leg_strength", "hard", "heavy"),
        ("Strength: deadlift", "", "leg_strength", "unknown", "deadlift"),
        ("Upper body", "", "strength", "unknown", "upper body"),
        ("Strength: core", "", "strength", "unknown", "strength"),
        ("Bench and pull-ups", "", "strength", "unknown", "bench"),
        ("Bike: VO2 intervals", "", "other", "unknown", "bike"),
        ("Swim: easy", "", "other", "unknown", "swim"),
        ("Yoga", "", "other", "unknown", "no run"),
        # German, Spanish, French
        ("Intervalle 5x1000m", "", "run", "hard", "intervalle"),
        ("Lockerer Dauerlauf", "", "run", "unknown", "dauerlauf"),
        ("Dauerlauf locker", "", "run", "easy", "locker"),
        ("Beintag", "Kniebeugen", "leg_strength", "unknown", "beintag"),
        ("Rodaje suave", "", "run", "easy", "suave"),
        ("Series en cuestas", "", "run", "hard", "cuestas"),
        ("Sentadillas y peso muerto", "", "leg_strength", "unknown", "sentadillas"),
        ("Footing récupération", "", "run", "easy", "récupération"),
        ("Fractionné 10x400m", "", "run", "hard", "fractionné"),
        ("Renforcement jambes", "", "leg_strength", "unknown", "jambes"),
        ("Musculation haut du corps", "", "strength", "unknown", "haut du corps"),
    ],
)
def test_classify_text(
    summary: str, description: str, kind: str, intensity: str, word: str
) -> None:
    got = classify_text(summary, description)
    assert (got.kind, got.intensity) == (kind, intensity), got.reason
    assert word in got.reason.lower()


# --- FIT workouts ------------------------------------------------------------------------------


def step(i: int, **fields: object) -> dict[str, object]:
    return {"message_index": i, **fields}


WARMUP = step(0, duration_type="time", duration_time=600.0, target_type="open", intensity="warmup")
COOLDOWN = step(
    4, duration_type="time", duration_time=600.0, target_type="open", intensity="cooldown"
)


def intervals_by_hr(low: int, high: int) -> list[dict[str, object]]:
    """Warm-up, 6 x (800 m at an HR range, 2 min recovery), cool-down: as fitparse decodes it."""
    return [
        WARMUP,
        step(
            1,
            wkt_step_name="800",
            duration_type="distance",
            duration_distance=800.0,
            target_type="heart_rate",
            target_hr_zone=0,
            custom_target_heart_rate_low=low,
            custom_target_heart_rate_high=high,
            intensity="active",
        ),
        step(2, duration_type="time", duration_time=120.0, target_type="open", intensity=4),
        step(
            3,
            duration_type="repeat_until_steps_cmplt",
            duration_step=1,
            repeat_steps=6,
            target_type="open",
            intensity="active",
        ),
        COOLDOWN,
    ]


def test_intervals_by_heart_rate_target_with_the_fit_offset() -> None:
    # 270-280 are bpm + 100 (fitparse 1.2.0 leaves the offset): 170-180 bpm, Z5 >= 171... Z4+.
    d = plan_from_workout(
        {"wkt_name": "6x800", "sport": "running"}, intervals_by_hr(270, 280), ZONES
    )
    assert (d.kind, d.intensity, d.sport) == ("run", "hard", "running")
    assert "6 × 170-180 bpm" in d.reason
    # The same numbers read without the offset would be 270 bpm: the reason proves it was applied.
    pct = plan_from_workout({"wkt_name": "x", "sport": "running"}, intervals_by_hr(88, 95), ZONES)
    assert pct.intensity == "hard" and "167-180 bpm" in pct.reason  # % of HRmax 190
    easy_hr = plan_from_workout(
        {"wkt_name": "6x800", "sport": "running"}, intervals_by_hr(220, 230), ZONES
    )
    assert easy_hr.intensity == "easy"  # 120-130 bpm is Z2: the name "6x800" does not decide


def test_easy_run_by_zone_target_and_strides_stay_easy() -> None:
    steps = [
        step(0, duration_type="time", duration_time=2700.0, target_type="heart_rate",
             target_hr_zone=2, intensity="active"),
        step(1, duration_type="time", duration_time=20.0, target_type="heart_rate",
             target_hr_zone=5, intensity=5),
        step(2, duration_type="time", duration_time=60.0, target_type="open", intensity=4),
        step(3, duration_type="repeat_until_steps_cmplt", duration_step=1, repeat_steps=4),
    ]  # fmt: skip
    d = plan_from_workout({"wkt_name": "Hard day", "sport": 1}, steps, ZONES)
    assert (d.kind, d.intensity) == ("run", "easy"), d.reason  # 80 s at Z5 of 51 min
    assert d.duration == timedelta(seconds=2700 + 4 * 80)
    assert plan_from_workout({"sport": "running"}, steps[:1], ZONES).intensity == "easy"


def test_hard_minutes_and_share_thresholds_come_from_settings() -> None:
    steps = [
        step(0, duration_type="time", duration_time=2400.0, target_type="heart_rate",
             target_hr_zone=2, intensity="active"),
        step(1, duration_type="time", duration_time=300.0, target_type="heart_rate",
             target_hr_zone=3, intensity="active"),
        step(2, duration_type="time", duration_time=480.0, target_type="heart_rate",
             target_hr_zone=4, intensity="active"),
    ]  # fmt: skip
    # 8 min at Z4 of 53 min: < 10 min and 15 % < 20 %; Z3+ 13 min = 25 % >= 20 %: moderate.
    d = plan_from_workout({"sport": "running"}, steps, ZONES)
    assert d.intensity == "moderate" and "25%" in d.reason
    strict = IntensitySettings(hard_z4plus_minutes=8.0)
    assert plan_from_workout({"sport": "running"}, steps, ZONES, strict).intensity == "hard"
    assert plan_from_workout({"sport": "running"}, steps[:2], ZONES).intensity == "easy"  # 11 %


def test_pace_targets_need_a_threshold_pace() -> None:
    tempo = [
        step(0, duration_type="time", duration_time=1200.0, target_type="speed",
             custom_target_speed_low=4.1, custom_target_speed_high=4.3, intensity="active"),
    ]  # fmt: skip
    d = plan_from_workout({"wkt_name": "Steady", "sport": "running"}, tempo, ZONES)
    assert d.intensity == "hard" and "3:58 /km" in d.reason  # faster than threshold 4:00
    slow = [dict(tempo[0], custom_target_speed_low=3.0, custom_target_speed_high=3.2)]
    assert plan_from_workout({"sport": "running"}, slow, ZONES).intensity == "easy"  # 5:23/km
    no_pace = PlanZones(PROFILE)
    d2 = plan_from_workout({"wkt_name": "Tempo", "sport": "running"}, tempo, no_pace)
    assert d2.intensity == "hard" and "name decided" in d2.reason  # falls back to the name
    d3 = plan_from_workout({"wkt_name": "Run", "sport": "running"}, tempo, no_pace)
    assert d3.intensity == "unknown"


def test_interval_steps_without_targets_are_hard() -> None:
    steps = [
        step(0, duration_type="time", duration_time=180.0, target_type="open", intensity=5),
        step(1, duration_type="time", duration_time=120.0, target_type="open", intensity=4),
        step(2, duration_type="repeat_until_steps_cmplt", duration_step=0, repeat_steps=5),
    ]
    d = plan_from_workout({"wkt_name": "Session", "sport": "running"}, steps, ZONES)
    assert d.intensity == "hard" and "interval" in d.reason


def test_strength_workouts() -> None:
    squat = step(0, duration_type="reps", duration_reps=5, exercise_category=28,
                 exercise_weight=100.0, intensity="active")  # fmt: skip  # 28 = squat
    rest = step(1, duration_type="time", duration_time=120.0, intensity="rest")
    rep = step(2, duration_type="repeat_until_steps_cmplt", duration_step=0, repeat_steps=5)
    legs = plan_from_workout(
        {"wkt_name": "Gym", "sport": "training", "sub_sport": "strength_training"},
        [squat, rest, rep],
        ZONES,
    )
    assert (legs.kind, legs.intensity) == ("leg_strength", "hard"), legs.reason
    assert "squat 5 reps at 100 kg" in legs.reason and legs.duration is None
    light = dict(squat, duration_reps=12)
    assert plan_from_workout({"sport": 10}, [light, rest, rep], ZONES).intensity == "moderate"
    bench = step(0, duration_type="reps", duration_reps=8, exercise_category="bench_press",
                 intensity="active")  # fmt: skip
    row = step(1, duration_type="reps", duration_reps=8, wkt_step_name="Bent-over row",
               intensity="active")  # fmt: skip
    upper = plan_from_workout(
        {"wkt_name": "Leg day?", "sport": 10, "sub_sport": 20},
        [bench, row, step(2, duration_type="repeat_until_steps_cmplt", duration_step=0,
                          repeat_steps=4)],
        ZONES,
    )  # fmt: skip
    assert upper.kind == "strength"  # the sets decide, not the name
    named = plan_from_workout({"wkt_name": "Leg day", "sport": "training"}, [], ZONES)
    assert named.kind == "leg_strength" and "no sets" in named.reason


# --- schedules ---------------------------------------------------------------------------------


def test_plans_from_schedule() -> None:
    created = datetime(2026, 10, 1, 8, 0)  # fitparse gives naive UTC date_times
    ref = workout_ref({"serial_number": 123, "time_created": created})
    hard = WorkoutDecision("6x800", "running", "run", "hard", "hard: test", None)
    msgs = [
        {"serial_number": 123, "time_created": created, "type": "workout", "completed": False,
         "scheduled_time": datetime(2026, 10, 26, 0, 0)},
        {"serial_number": 123, "time_created": created, "type": "workout", "completed": False,
         "scheduled_time": datetime(2026, 10, 28, 18, 30)},
        {"serial_number": 123, "time_created": created, "type": "workout", "completed": True,
         "scheduled_time": datetime(2026, 10, 20, 0, 0)},
        {"serial_number": 9, "time_created": created, "type": "course", "completed": False,
         "scheduled_time": datetime(2026, 10, 27, 0, 0)},
        {"serial_number": 77, "time_created": created, "type": 0, "completed": False,
         "scheduled_time": datetime(2026, 10, 29, 0, 0)},
    ]  # fmt: skip
    plans = plans_from_schedule(msgs, {ref: hard}, BERLIN, athlete_id="ana", all_day_hour=7)
    assert [(p.start_utc, p.all_day, p.kind, p.intensity) for p in plans] == [
        (datetime(2026, 10, 26, 6, 0, tzinfo=UTC), True, "run", "hard"),
        (datetime(2026, 10, 28, 17, 30, tzinfo=UTC), False, "run", "hard"),
        (datetime(2026, 10, 29, 6, 0, tzinfo=UTC), True, "other", "unknown"),
    ]
    assert "serial 77" in plans[2].reason and "add that workout file" in plans[2].reason
    assert all(p.source == PlanSource.FIT_SCHEDULE and p.feed == "fit_schedule" for p in plans)
    # Same serial, another time: another workout, not a guess by serial.
    other_time = dict(msgs[0], time_created=datetime(2026, 9, 1))
    [unknown] = plans_from_schedule([other_time], {ref: hard}, BERLIN)
    assert unknown.kind == "other"
    no_serial = {k: v for k, v in msgs[0].items() if k != "serial_number"}
    assert plans_from_schedule([no_serial], {ref: hard}, BERLIN)[0].is_hard_run
    again = plans_from_schedule(msgs, {ref: hard}, BERLIN, athlete_id="ana", all_day_hour=7)
    assert [p.plan_key for p in plans] == [p.plan_key for p in again]


def test_a_broken_event_is_named_never_dropped_unseen() -> None:
    broken = "UID:bad-1\nDTSTART:2026-10-26 7am\nSUMMARY:Tempo"
    data = ics(EVENTS[0], broken)
    with pytest.raises(PlanFileError, match=r"'bad-1' cannot be read.*fix or delete"):
        read_ics(data, BERLIN)
    report = read_ics_report(data, BERLIN)
    assert [p.title for p in report.plans] == ["Leg day"]
    assert len(report.skipped) == 1 and "bad-1" in report.skipped[0]
    assert [p.title for p in read_ics(data, BERLIN, strict=False)] == ["Leg day"]


@settings(max_examples=150, deadline=None)
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 12), st.sampled_from(["", "T", ":", ";",
                  "Z", "\r\n", "=", "99", "VALUE=DATE:", "TZID=Europe/", "RRULE:FREQ="])),
        min_size=1,
        max_size=5,
    )
)  # fmt: skip
def test_mangled_calendars_raise_only_plan_file_errors(cuts: list[tuple[int, int, str]]) -> None:
    data = bytearray(ics(*EVENTS, EVENTS[0].replace("legs-1", "r") + "\nRRULE:FREQ=DAILY;COUNT=3"))
    for pos, n, text in cuts:
        at = pos % len(data)
        data[at : at + n] = text.encode()
    try:
        plans = read_ics(bytes(data), BERLIN)
    except PlanFileError as exc:
        assert "\n" not in exc.message
    else:
        assert all(p.start_utc.tzinfo is not None for p in plans)


def test_the_repeated_hour_of_the_autumn_change() -> None:
    # 02:30 happens twice in Berlin on 25 Oct 2026; a floating time takes the first (CEST).
    first = manual_plan("a", datetime(2026, 10, 25, 2, 30), "run", BERLIN)
    assert first.start_utc == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # The second 02:30 (CET), given as an instant, is a valid plan too (fold=1 locally).
    local, utc, _ = local_start(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), BERLIN)
    assert local.fold == 1 and local.hour == 2 and utc.hour == 1
    second = manual_plan("a", datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "run", BERLIN)
    assert second.start_utc - first.start_utc == timedelta(hours=1)


def test_workout_steps_exactly_as_fitparse_decodes_garmin_encoder_output() -> None:
    """Dicts copied from fitparse 1.2.0 ``get_values()`` of files written with garmin_fit_sdk
    21.218's Encoder (``custom_target_value_low=270``, ``intensity='interval'``): the offset is
    left on, ``interval``/``recovery`` come back as 5/4."""
    steps = [
        {"message_index": 0, "wkt_step_name": "Warm up", "duration_type": "time",
         "duration_time": 600.0, "target_type": "open", "target_value": 0, "intensity": "warmup"},
        {"message_index": 1, "duration_type": "distance", "duration_distance": 800.0,
         "target_type": "heart_rate", "target_hr_zone": 0, "custom_target_heart_rate_low": 270,
         "custom_target_heart_rate_high": 280, "intensity": 5},
        {"message_index": 2, "duration_type": "time", "duration_time": 120.0,
         "target_type": "open", "target_value": 0, "intensity": 4},
        {"message_index": 3, "duration_type": "repeat_until_steps_cmplt", "duration_step": 1,
         "repeat_steps": 6},
        {"message_index": 4, "duration_type": "time", "duration_time": 600.0,
         "target_type": "open", "target_value": 0, "intensity": "cooldown"},
    ]  # fmt: skip
    workout = {"wkt_name": "6x800", "sport": "running", "sub_sport": "generic",
               "num_valid_steps": 5, "capabilities": "tcx"}  # fmt: skip
    d = plan_from_workout(workout, steps, PlanZones(PROFILE))
    assert (d.kind, d.intensity) == ("run", "hard") and "6 × 170-180 bpm" in d.reason
    easy = [{"message_index": 0, "duration_type": "time", "duration_time": 2700.0,
             "target_type": "heart_rate", "target_hr_zone": 2, "intensity": "active"}]  # fmt: skip
    assert plan_from_workout({"wkt_name": "Easy", "sport": "running"}, easy, ZONES).intensity == (
        "easy"
    )
    file_id = {"type": "workout", "manufacturer": "garmin", "garmin_product": "connect",
               "serial_number": 4242, "time_created": datetime(2026, 10, 1, 8, 0)}  # fmt: skip
    schedule = {"manufacturer": "garmin", "garmin_product": "connect", "serial_number": 4242,
                "time_created": datetime(2026, 10, 1, 8, 0), "completed": False,
                "type": "workout", "scheduled_time": datetime(2026, 10, 26, 0, 0)}  # fmt: skip
    [plan] = plans_from_schedule([schedule], {workout_ref(file_id): d}, NEW_YORK)
    assert plan.all_day and plan.start_local == datetime(2026, 10, 26, 12, tzinfo=NEW_YORK)
    assert plan.is_hard_run and plan.title == "6x800"
