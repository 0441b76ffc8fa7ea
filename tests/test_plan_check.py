"""The "coming up" check: conflicts exactly on planned hard runs in leg windows, suggestions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.config import RecoverySettings
from pipeline.derive.recovery import recovery_flags
from pipeline.plans.check import Conflict, check_plans, moved
from pipeline.plans.ics import read_ics
from pipeline.plans.model import PlannedWorkout, manual_plan, replace_feed
from pipeline.plans.notify import (
    TEST_NOTIFICATION,
    compose,
    flag_findings,
    new_findings,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
RULES = RecoverySettings()
DAYS = 14

SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "start_utc": pl.Datetime("us", "UTC"),
    "end_utc": pl.Datetime("us", "UTC"),
    "intensity": pl.String(),
    "heavy": pl.Boolean(),
    "name": pl.String(),
}


def sessions(*rows: tuple[str, str, datetime, datetime, bool]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"activity_id": a, "kind": k, "start_utc": s, "end_utc": e, "intensity": None,
             "heavy": h, "name": a}
            for a, k, s, e, h in rows
        ],
        schema=SCHEMA,
    )  # fmt: skip


NONE = sessions()


def run(
    when: datetime, intensity: str = "hard", tz: ZoneInfo = BERLIN, title: str = ""
) -> PlannedWorkout:
    return manual_plan(
        "ana", when, "run", tz, intensity=intensity, title=title or f"{intensity} {when:%d %H:%M}"
    )  # type: ignore[arg-type]


def legs(when: datetime, tz: ZoneInfo = BERLIN, heavy: bool = False) -> PlannedWorkout:
    return manual_plan(
        "ana", when, "leg_strength", tz, intensity="hard" if heavy else "unknown", title="Leg day"
    )


def hours_oracle(run_start: datetime, leg_end: datetime) -> float:
    return (run_start.timestamp() - leg_end.timestamp()) / 3600


def expected_severity(hours: float, heavy: bool) -> str | None:
    """Independent restatement of the rule table for hard runs (README numbers)."""
    if hours < 0:
        return None
    if hours < 24:
        return "alert"
    if hours < 48 or (heavy and hours < 72):
        return "warning"
    return None


# Completed leg session Saturday 24 Oct 17:00-18:00 CEST (15:00-16:00 UTC); clocks go back
# at 03:00 on Sunday 25 Oct, so a Sunday 10:00 CET run is 17 real hours later, not 16.
LEG_END = datetime(2026, 10, 24, 16, 0, tzinfo=UTC)
DONE = sessions(("legs-sat", "leg_strength", LEG_END - timedelta(hours=1), LEG_END, False))
AS_OF = datetime(2026, 10, 24, 18, 0, tzinfo=UTC)  # Saturday evening check, 20:00 CEST


def test_conflicts_fall_exactly_on_hard_runs_inside_the_window_across_dst() -> None:
    plans = [
        run(datetime(2026, 10, 25, 10, 0)),  # 17 h: alert
        run(datetime(2026, 10, 25, 17, 0), "easy"),  # easy: never a conflict
        run(datetime(2026, 10, 26, 7, 0)),  # 39 h: warning
        run(datetime(2026, 10, 26, 7, 30), "unknown"),  # unknown: info only, left out
        run(datetime(2026, 10, 27, 7, 0)),  # 63 h: clear (not heavy)
    ]
    got = check_plans(plans, DONE, AS_OF, RULES, DAYS, BERLIN)
    assert [(c.run.start_local.day, c.severity, c.rule) for c in got] == [
        (25, "alert", "intense_24h"),
        (26, "warning", "intense_48h"),
    ]
    assert [c.hours_between for c in got] == [
        hours_oracle(plans[0].start_utc, LEG_END),
        hours_oracle(plans[2].start_utc, LEG_END),
    ]
    assert got[0].hours_between == 18.0 - 1.0  # 16:00 UTC -> 09:00 UTC next day
    assert all(c.leg.session_id == "legs-sat" and not c.leg.planned for c in got)
    ready = LEG_END + timedelta(hours=48)
    assert all(c.legs_ready_utc == ready for c in got)
    assert "Mon 26 Oct 17:00 CET" in got[0].message  # 18:00 CEST + 48 h = 17:00 CET
    with_info = check_plans(plans, DONE, AS_OF, RULES, DAYS, BERLIN, min_severity="info")
    assert {c.run.intensity for c in with_info} == {"hard", "easy", "unknown"}


def test_heavy_and_planned_leg_sessions_count() -> None:
    tue = run(datetime(2026, 10, 27, 7, 0))  # 63 h after Saturday's session
    heavy = DONE.with_columns(pl.lit(True).alias("heavy"))
    [c] = check_plans([tue], heavy, AS_OF, RULES, DAYS, BERLIN)
    assert (c.severity, c.rule) == ("warning", "intense_72h_heavy")
    # A leg day planned Monday 18:00 and a hard run planned Tuesday 07:00: 12 h, alert.
    mon_legs = legs(datetime(2026, 10, 26, 18, 0))
    [c] = check_plans([mon_legs, tue], DONE, AS_OF, RULES, DAYS, BERLIN)
    assert (c.severity, c.leg.planned, c.leg.title) == ("alert", True, "Leg day")
    assert c.hours_between == 12.0
    assert c.legs_ready_utc == mon_legs.end_utc + timedelta(hours=48)


def test_a_layoff_before_a_planned_leg_day_makes_it_unaccustomed() -> None:
    """The 72 h window after an unaccustomed leg session holds for planned ones too, however old
    the evidence of the layoff (the check trims old history but keeps the last session)."""
    as_of = datetime(2026, 10, 24, 18, 0, tzinfo=UTC)
    plan_legs = legs(datetime(2026, 10, 25, 18, 0))  # ends 19:00 CET = 18:00 UTC
    hard = run(datetime(2026, 10, 28, 7, 0))  # 60 h later
    for days_ago, expected in ((60, ["intense_72h_heavy"]), (5, [])):
        t = as_of - timedelta(days=days_ago)
        old = sessions(("old-legs", "leg_strength", t, t + timedelta(hours=1), False))
        got = check_plans([plan_legs, hard], old, as_of, RULES, DAYS, BERLIN, horizon_days=4)
        assert [c.rule for c in got] == expected, days_ago
    t = as_of - timedelta(days=90)  # a run long ago is evidence of a layoff too
    old_run = sessions(("old-run", "run", t, t + timedelta(hours=1), False))
    got = check_plans([plan_legs, hard], old_run, as_of, RULES, DAYS, BERLIN, horizon_days=4)
    assert [c.rule for c in got] == ["intense_72h_heavy"]
    assert check_plans([plan_legs, hard], NONE, as_of, RULES, DAYS, BERLIN, horizon_days=4) == []


def test_the_move_suggestion_chains_past_later_leg_sessions_and_clears() -> None:
    sun = run(datetime(2026, 10, 25, 10, 0))
    mon_legs = legs(datetime(2026, 10, 26, 16, 0))  # ends 17:00 CET, exactly when Saturday's clears
    plans = [sun, mon_legs]
    [c] = check_plans(plans, DONE, AS_OF, RULES, DAYS, BERLIN)
    assert c.legs_ready_utc == LEG_END + timedelta(hours=48)
    assert c.move_to_utc == mon_legs.end_utc + timedelta(hours=48)  # Wed 28 Oct 17:00 CET
    after = [moved(sun, c.move_to_utc, BERLIN), mon_legs]
    assert check_plans(after, DONE, AS_OF, RULES, DAYS, BERLIN, horizon_days=6) == []


def test_swap_only_when_it_removes_the_conflict() -> None:
    sun = run(datetime(2026, 10, 25, 10, 0))
    near_easy = run(datetime(2026, 10, 26, 7, 0), "easy", title="Easy Monday")  # still 39 h
    far_easy = run(datetime(2026, 10, 27, 7, 0), "easy", title="Easy Tuesday")  # 63 h: clear
    [c] = check_plans([sun, near_easy], DONE, AS_OF, RULES, DAYS, BERLIN)
    assert c.swap_with is None and "swap" not in c.suggestion
    [c] = check_plans([sun, near_easy, far_easy], DONE, AS_OF, RULES, DAYS, BERLIN)
    assert c.swap_with == far_easy and "Easy Tuesday" in c.suggestion
    swapped = [moved(sun, far_easy.start_utc, BERLIN), moved(far_easy, sun.start_utc, BERLIN)]
    assert check_plans(swapped, DONE, AS_OF, RULES, DAYS, BERLIN) == []


def test_horizon_and_past_plans() -> None:
    thu = run(datetime(2026, 10, 29, 7, 0))
    mon_legs = legs(datetime(2026, 10, 28, 18, 0))
    assert check_plans([thu, mon_legs], NONE, AS_OF, RULES, DAYS, BERLIN) == []  # day 5
    assert len(check_plans([thu, mon_legs], NONE, AS_OF, RULES, DAYS, BERLIN, horizon_days=5)) == 1
    # A leg day planned 3 h ago with no completed session that day is taken as done (sync lag);
    # a completed leg session that day takes its place; one planned 2 days ago is skipped.
    as_of = datetime(2026, 10, 24, 19, 0, tzinfo=UTC)
    sun = run(datetime(2026, 10, 25, 10, 0))
    recent = legs(datetime(2026, 10, 24, 17, 0))
    [c] = check_plans([recent, sun], NONE, as_of, RULES, DAYS, BERLIN)
    assert c.leg.planned
    [c] = check_plans([recent, sun], DONE, as_of, RULES, DAYS, BERLIN)
    assert c.leg.session_id == "legs-sat"
    old = legs(datetime(2026, 10, 22, 18, 0))
    assert check_plans([old, sun], NONE, as_of, RULES, DAYS, BERLIN) == []
    assert check_plans([sun], NONE, as_of, RULES, DAYS, BERLIN) == []
    past_run = run(datetime(2026, 10, 24, 19, 0))  # before as_of: already happened or not
    assert check_plans([past_run], DONE, as_of, RULES, DAYS, BERLIN) == []


ICS_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nX-WR-CALNAME:Plan\r\n"


def calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e}END:VEVENT\r\n" for e in events)
    return (ICS_HEAD + body + "END:VCALENDAR\r\n").encode()


EV_LEGS = "UID:l1\r\nDTSTART;VALUE=DATE:20261030\r\nSUMMARY:Strength: Leg day\r\n"
EV_HARD = "UID:r1\r\nDTSTART:20261031T080000\r\nSUMMARY:Run: 6x800m\r\n"
EV_EASY = "UID:r2\r\nDTSTART:20261102T073000\r\nSUMMARY:Run: easy 40'\r\n"
EV_HARD2 = "UID:r3\r\nDTSTART;VALUE=DATE:20261101\r\nSUMMARY:Threshold 3x10'\r\n"


@pytest.mark.parametrize(
    ("tz", "hours"),
    [
        # Berlin is past its change: all-day legs 12:00-13:00 CET Fri; hard run Sat 08:00: 19 h,
        # all-day threshold Sun 12:00: 47 h.
        (BERLIN, (19.0, 47.0)),
        # New York changes on Sun 1 Nov 02:00: Sun 12:00 EST is 48 real hours after Fri 13:00
        # EDT, so the Sunday run is clear there; the Saturday run is 19 h.
        (NEW_YORK, (19.0,)),
    ],
)
def test_ics_end_to_end_in_two_zones_and_removal(tz: ZoneInfo, hours: tuple[float, ...]) -> None:
    as_of = datetime(2026, 10, 29, 20, 0, tzinfo=UTC)
    plans = read_ics(calendar(EV_LEGS, EV_HARD, EV_EASY, EV_HARD2), tz, athlete_id="ana")
    got = check_plans(plans, NONE, as_of, RULES, DAYS, tz)
    assert [c.hours_between for c in got] == list(hours)
    assert all(c.run.intensity == "hard" and c.leg.planned and c.leg.all_day for c in got)
    assert "planned all day, taken as ending Fri 30 Oct 13:00" in got[0].message
    assert got[0].severity == "alert"
    assert all(c.severity == "warning" for c in got[1:])
    # The leg day is removed from the calendar: the next read replaces the feed, no conflict.
    later = read_ics(calendar(EV_HARD, EV_EASY, EV_HARD2), tz, athlete_id="ana")
    merged = replace_feed(plans, later, "Plan")
    assert check_plans(merged, NONE, as_of, RULES, DAYS, tz) == []


def test_the_same_plan_key_counts_once_the_last_wins() -> None:
    sun = run(datetime(2026, 10, 25, 10, 0))
    same_key_easy = run(datetime(2026, 10, 25, 10, 0), "easy")
    assert same_key_easy.plan_key == sun.plan_key
    assert len(check_plans([sun, sun], DONE, AS_OF, RULES, DAYS, BERLIN)) == 1
    assert check_plans([sun, same_key_easy], DONE, AS_OF, RULES, DAYS, BERLIN) == []


def test_finding_keys_are_stable_and_notifications_go_once() -> None:
    plans = [run(datetime(2026, 10, 25, 10, 0), title="6x800m"), run(datetime(2026, 10, 26, 7, 0))]
    first = check_plans(plans, DONE, AS_OF, RULES, DAYS, BERLIN)
    again = check_plans(
        list(reversed(plans)), DONE, AS_OF + timedelta(hours=1), RULES, DAYS, BERLIN
    )
    assert [c.finding_key for c in first] == [c.finding_key for c in again]
    assert len({c.finding_key for c in first}) == 2
    todo = new_findings(first, [])
    note = compose(todo, BERLIN, athlete="ana")
    assert note is not None
    assert note.title == "legday (ana): 1 alert, 1 warning — coming up"
    lines = note.body.splitlines()
    assert len(lines) == 2 and lines[0].startswith("ALERT Sun 25 Oct 10:00 CET 6x800m: 17.0 h")
    assert "legs ready Mon 26 Oct 17:00 CET" in lines[0] and lines[1].startswith("WARNING")
    assert note.notify_type == "warning" and set(note.keys) == {c.finding_key for c in first}
    assert new_findings(again, note.keys) == []  # the next run sends nothing
    assert compose([], BERLIN) is None
    assert TEST_NOTIFICATION.keys == ()


def test_flag_findings_from_the_recovery_frame() -> None:
    done_run = sessions(
        ("legs-sat", "leg_strength", LEG_END - timedelta(hours=1), LEG_END, False),
        ("run-sun", "run", LEG_END + timedelta(hours=10), LEG_END + timedelta(hours=11), False),
    ).with_columns(pl.Series("intensity", [None, "hard"]))
    found = flag_findings(recovery_flags(done_run, RULES, DAYS, tz=BERLIN))
    assert [f.severity for f in found] == ["alert"]
    note = compose(new_findings(found, []), BERLIN)
    assert (
        note is not None
        and note.title.endswith("— after leg day")
        and note.body.startswith("ALERT ")
    )
    assert new_findings([*found, *found], []) == found[:1]


@settings(max_examples=60, deadline=None)
@given(
    gap_min=st.integers(min_value=-6 * 60, max_value=80 * 60),
    leg_day=st.integers(min_value=0, max_value=20),
    heavy=st.booleans(),
    zone=st.sampled_from([BERLIN, NEW_YORK]),
    easy_min=st.integers(min_value=0, max_value=100 * 60),
)
def test_invariants(gap_min: int, leg_day: int, heavy: bool, zone: ZoneInfo, easy_min: int) -> None:
    """A conflict never precedes its leg session, its severity is the rule table's, moving the
    run to the suggested time removes it, and a swap is offered exactly when it removes it."""
    start = datetime(2026, 10, 15, 16, 0, tzinfo=UTC) + timedelta(days=leg_day)
    leg = legs(start.astimezone(zone).replace(tzinfo=None), zone, heavy)
    hard = run(
        (leg.end_utc + timedelta(minutes=gap_min)).astimezone(zone).replace(tzinfo=None), tz=zone
    )
    as_of = start - timedelta(hours=1)
    easy = run((leg.end_utc + timedelta(minutes=easy_min)).astimezone(UTC), "easy", zone)
    assume(easy.plan_key != hard.plan_key)  # a manual plan's key is its kind and start
    got = check_plans([leg, hard, easy], NONE, as_of, RULES, DAYS, zone, horizon_days=5)
    hours = hours_oracle(hard.start_utc, leg.end_utc)
    expected = expected_severity(hours, heavy)
    assert [c.severity for c in got] == ([expected] if expected else [])
    for c in got:
        assert c.run.start_utc >= c.leg.end_utc and c.hours_between == pytest.approx(hours)
        assert c.legs_ready_utc > c.run.start_utc
        fixed = [leg, moved(hard, c.move_to_utc, zone)]
        assert check_plans(fixed, NONE, as_of, RULES, DAYS, zone, horizon_days=10) == []
        assert isinstance(c, Conflict)
        in_window = easy.start_utc >= as_of
        swapped = [leg, moved(hard, easy.start_utc, zone), moved(easy, hard.start_utc, zone)]
        clears = check_plans(swapped, NONE, as_of, RULES, DAYS, zone, horizon_days=10) == []
        assert (c.swap_with == easy) == (in_window and clears)


# --- what issue 12 and issue 14 built: possible leg sessions, the fatigue model ---------------

T_LIFT = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)  # a strength session ends here (19:00 CEST)
LIFT_AS_OF = T_LIFT + timedelta(hours=1)

LIFT_SCHEMA: dict[str, pl.DataType] = {
    **SCHEMA,
    "region": pl.String(),
    "kind_source": pl.String(),
    "kind_reason": pl.String(),
}


def lifted(region: str = "unknown", source: str = "rules", kind: str = "strength") -> pl.DataFrame:
    """One completed strength session as refresh's session frame gives it."""
    return pl.DataFrame(
        [{"activity_id": "lift1", "kind": kind, "start_utc": T_LIFT - timedelta(hours=1),
          "end_utc": T_LIFT, "intensity": None, "heavy": False, "name": "Gym",
          "region": region, "kind_source": source,
          "kind_reason": f"strength, region {region}: no set names a muscle group"}],
        schema=LIFT_SCHEMA,
    )  # fmt: skip


# Hard runs 12 h, 30 h and 50 h after the lift; an easy one 12 h after, a day later.
AFTER_LIFT = [
    run(T_LIFT + timedelta(hours=12)),
    run(T_LIFT + timedelta(hours=30)),
    run(T_LIFT + timedelta(hours=50)),
    run(T_LIFT + timedelta(hours=36), "easy"),
]


def found(conflicts: list[Conflict]) -> list[tuple[float, str, str]]:
    return [(round(c.hours_between, 3), c.severity, c.rule) for c in conflicts]


def test_a_strength_session_of_unknown_region_counts_as_the_report_counts_it() -> None:
    def check(frame: pl.DataFrame, **rules: object) -> list[Conflict]:
        cfg = RecoverySettings(**rules)  # type: ignore[arg-type]
        return check_plans(AFTER_LIFT, frame, LIFT_AS_OF, cfg, DAYS, BERLIN)

    possible = check(lifted())  # default: a possible leg session, warning under 48 h
    assert found(possible) == [
        (12.0, "warning", "possible_legs"),
        (30.0, "warning", "possible_legs"),
    ]
    assert all(c.leg.possible and not c.leg.planned for c in possible)
    assert "legday label lift1 leg_strength" in possible[0].message
    assert possible[0].legs_ready_utc == T_LIFT + timedelta(hours=48)
    assert found(check(lifted(), possible_legs_severity="alert"))[0] == (
        12.0,
        "alert",
        "possible_legs",
    )
    as_legs = check(lifted(), unknown_strength="legs")  # a leg session: every rule applies
    assert found(as_legs) == [(12.0, "alert", "intense_24h"), (30.0, "warning", "intense_48h")]
    assert not as_legs[0].leg.possible
    assert check(lifted(), unknown_strength="not_legs") == []
    # Known upper body, or settled by a person: never a possible leg session.
    assert check(lifted(region="upper")) == []
    assert check(lifted(source="label")) == []
    # The report's own flags for the same sessions, as a cross-check of "one rule".
    frame = pl.concat(
        [lifted(), pl.DataFrame([{"activity_id": "r", "kind": "run",
         "start_utc": T_LIFT + timedelta(hours=12), "end_utc": T_LIFT + timedelta(hours=13),
         "intensity": "hard", "heavy": False, "name": "r"}], schema=SCHEMA)],
        how="diagonal",
    )  # fmt: skip
    [flag] = recovery_flags(frame, RULES, DAYS).to_dicts()
    assert (flag["severity"], flag["rule"]) == (possible[0].severity, possible[0].rule)


def reference_dose(at: datetime, activity_id: str = "lift1") -> pl.DataFrame:
    """One dose row of the model's reference session (quadriceps level 1.0 at ``at``)."""
    from pipeline.derive.fatigue import DOSE_SCHEMA

    row = {k: None for k in DOSE_SCHEMA} | {
        "activity_id": activity_id, "set_index": 0, "time_utc": at, "exercise": "squat",
        "via": "category", "reps": 5.0, "weight_kg": 100.0, "load_basis": "e1rm",
        "heavy": True, "unaccustomed": False, "dose_quadriceps": 1.0,
        "dose_posterior_chain": 0.0, "dose_calves": 0.0,
    }  # fmt: skip
    return pl.DataFrame([row], schema=DOSE_SCHEMA)


def test_under_the_fatigue_model_the_curve_judges_what_was_done() -> None:
    from pipeline.derive.fatigue import FatigueSettings
    from pipeline.plans.check_fatigue import FatigueInput

    curve = FatigueSettings()
    # Quadriceps decay with tau = 72/ln 10 h: level 1.0 at the set, e^(-24/tau) (the alert
    # level) at 24 h, 0.1 (ready) at exactly 72 h.
    done = lifted(kind="leg_strength", region="lower")
    fatigue = FatigueInput(reference_dose(T_LIFT), curve)
    plans = [
        run(T_LIFT + timedelta(hours=12)),  # level 0.68: alert
        run(T_LIFT + timedelta(hours=30)),  # 0.38: warning
        run(T_LIFT + timedelta(hours=60)),  # 0.15: warning (the 48 h rule would be silent)
        run(T_LIFT + timedelta(hours=73)),  # 0.097: ready
        run(T_LIFT + timedelta(hours=13), "easy", title="easy"),
    ]
    conflicts = check_plans(plans, done, LIFT_AS_OF, RULES, DAYS, BERLIN, fatigue=fatigue)
    assert [(round(c.hours_between), c.severity, c.rule) for c in conflicts] == [
        (12, "alert", "fatigue_alert"),
        (30, "warning", "fatigue_warning"),
        (60, "warning", "fatigue_warning"),
    ]
    ready = T_LIFT + timedelta(hours=72)
    for c in conflicts:
        assert abs((c.legs_ready_utc - ready).total_seconds()) < 1
        assert abs((c.move_to_utc - ready).total_seconds()) < 2
        assert c.leg.session_id == "lift1" and c.leg.title == "Gym" and not c.leg.planned
        assert abs(c.threshold_hours - 72.0) < 1e-3 and "leg fatigue" in c.message
    windows = check_plans(
        plans, done, LIFT_AS_OF, RULES, DAYS, BERLIN
    )  # the rules model, for contrast
    assert found(windows) == [(12.0, "alert", "intense_24h"), (30.0, "warning", "intense_48h")]


def test_under_the_fatigue_model_planned_leg_days_still_count_by_the_rules() -> None:
    from pipeline.derive.fatigue import FatigueSettings
    from pipeline.plans.check_fatigue import FatigueInput

    done = lifted(kind="leg_strength", region="lower")
    fatigue = FatigueInput(reference_dose(T_LIFT), FatigueSettings())
    # A planned leg day 4 days after the completed one (accustomed: one within 14 days), and
    # hard runs 10 h and 40 h after its end (it lasts the default hour).
    leg_day = legs(datetime(2026, 10, 24, 18, 0))  # 16:00 UTC, ends 17:00 UTC
    end = datetime(2026, 10, 24, 17, 0, tzinfo=UTC)
    plans = [leg_day, run(end + timedelta(hours=10)), run(end + timedelta(hours=40))]
    conflicts = check_plans(
        plans, done, LIFT_AS_OF, RULES, DAYS, BERLIN, horizon_days=6, fatigue=fatigue
    )
    assert found(conflicts) == [(10.0, "alert", "intense_24h"), (40.0, "warning", "intense_48h")]
    assert all(c.leg.planned and c.leg.title == "Leg day" for c in conflicts)
    # With no leg session in the 14 days before (the completed one 20 days earlier), the planned
    # one is unaccustomed: 72 h, as the rules decide it.
    long_ago = lifted(kind="leg_strength", region="lower").with_columns(
        pl.col("start_utc") - timedelta(days=20), pl.col("end_utc") - timedelta(days=20)
    )
    far = FatigueInput(reference_dose(T_LIFT - timedelta(days=20)), FatigueSettings())
    late = [leg_day, run(end + timedelta(hours=60))]
    [c] = check_plans(late, long_ago, LIFT_AS_OF, RULES, DAYS, BERLIN, horizon_days=7, fatigue=far)
    assert (c.severity, c.rule, c.hours_between) == ("warning", "intense_72h_heavy", 60.0)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("possible", [("warning", "possible_legs")]),
        ("legs", [("alert", "intense_24h")]),
        ("not_legs", []),
    ],
)
def test_the_stored_check_counts_unknown_strength_as_the_report_does(
    tmp_path: Path, mode: str, expected: list[tuple[str, str]]
) -> None:
    from pipeline.derive import refresh
    from pipeline.plans import service
    from pipeline.store.db import open_store
    from tests.helpers import ingest
    from tests.test_possible_legs import T0, UNKNOWN_SETS, _settings, strength

    settings = _settings(tmp_path, mode)
    ingest(settings.db_path, [strength(tmp_path, T0, sets=UNKNOWN_SETS)])  # ends 17:00 UTC
    now = T0 + timedelta(hours=2)
    refresh.refresh_store(settings, now=now)
    with open_store(settings.db_path) as store:
        # Tuesday 08:00 CEST = 06:00 UTC: 13 h after the session.
        service.add_manual(
            store, settings, "me", datetime(2026, 10, 20, 8, 0), "run", now, intensity="hard"
        )
        conflicts = service.check(store, settings, "me", now)
        flags = store.rows("SELECT count(*) FROM plan_conflicts WHERE athlete_id = 'me'")
    assert [(c.severity, c.rule) for c in conflicts] == expected
    assert [c.hours_between for c in conflicts] == [13.0] * len(expected)
    assert flags == [(len(expected),)]


def test_the_stored_check_under_the_fatigue_model_uses_the_legs_ready_instant(
    tmp_path: Path,
) -> None:
    from pipeline.derive import fatigue_service, refresh
    from pipeline.plans import service
    from pipeline.store.db import open_store
    from tests.helpers import ingest
    from tests.test_possible_legs import T0, _settings, strength

    squats = [(5, 100.0, 28)] * 8  # category 28: squat
    settings = _settings(tmp_path, "possible", model="fatigue")
    ingest(settings.db_path, [strength(tmp_path, T0, sets=squats)])
    now = T0 + timedelta(hours=2)
    refresh.refresh_store(settings, now=now)
    with open_store(settings.db_path) as store:
        ready = fatigue_service.refresh_fatigue(store, settings, "me", now).ready_at_utc
        service.add_manual(
            store, settings, "me", datetime(2026, 10, 20, 8, 0), "run", now, intensity="hard"
        )
        conflicts = service.check(store, settings, "me", now)
    assert ready is not None
    [c] = conflicts
    assert c.rule in ("fatigue_alert", "fatigue_warning") and not c.leg.planned
    assert abs((c.legs_ready_utc - ready).total_seconds()) < 1  # the stored legs_ready instant
    assert c.move_to_utc >= c.legs_ready_utc
