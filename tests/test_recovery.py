"""Recovery rules: the rule table, unaccustomed sessions, DST-proof gaps and invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import RecoverySettings
from pipeline.derive.recovery import FLAG_SCHEMA, RULES, SEVERITY_RANK, legs_state, recovery_flags

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULTS = RecoverySettings()
T0 = datetime(2026, 10, 19, 16, 40, tzinfo=UTC)  # a Monday, 18:40 in Berlin

SESSION_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "start_utc": pl.Datetime("us", "UTC"),
    "end_utc": pl.Datetime("us", "UTC"),
    "intensity": pl.String(),
    "heavy": pl.Boolean(),
    "leg_score": pl.Float64(),
    "name": pl.String(),
    "sport": pl.String(),
    "sub_sport": pl.String(),
}


def leg(aid: str, end: datetime, *, heavy: bool = False, score: float = 6.0) -> dict[str, object]:
    return {
        "activity_id": aid,
        "kind": "leg_strength",
        "start_utc": end - timedelta(hours=1),
        "end_utc": end,
        "intensity": None,
        "heavy": heavy,
        "leg_score": score,
        "name": "Back squat 5x5",
        "sport": "training",
        "sub_sport": "strength_training",
    }


def run(aid: str, start: datetime, intensity: str | None = "hard") -> dict[str, object]:
    return {
        "activity_id": aid,
        "kind": "run",
        "start_utc": start,
        "end_utc": start + timedelta(minutes=45),
        "intensity": intensity,
        "heavy": None,
        "leg_score": None,
        "name": "Intervals",
        "sport": "running",
        "sub_sport": "generic",
    }


def other(aid: str, start: datetime, kind: str = "ride") -> dict[str, object]:
    return {
        "activity_id": aid,
        "kind": kind,
        "start_utc": start,
        "end_utc": start + timedelta(hours=1),
        "intensity": None,
        "heavy": False if kind == "strength" else None,
        "leg_score": 0.5 if kind == "strength" else None,
        "name": None,
        "sport": "cycling",
        "sub_sport": "road",
    }


def frame(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SESSION_SCHEMA)


def flags_of(*rows: dict[str, object], days: int = 14) -> pl.DataFrame:
    return recovery_flags(frame(*rows), DEFAULTS, days, tz=BERLIN)


@pytest.mark.parametrize(
    ("gap_h", "intensity", "heavy", "expected"),
    [
        (0.0, "hard", False, ("alert", "same_day")),
        (3.0, "hard", False, ("alert", "same_day")),
        (5.99, "hard", False, ("alert", "same_day")),
        (6.0, "hard", False, ("alert", "intense_24h")),
        (13.0, "hard", True, ("alert", "intense_24h")),
        (23.99, "hard", False, ("alert", "intense_24h")),
        (24.0, "hard", False, ("warning", "intense_48h")),
        (47.99, "hard", True, ("warning", "intense_48h")),
        (48.0, "hard", False, None),
        (48.0, "hard", True, ("warning", "intense_72h_heavy")),
        (71.99, "hard", True, ("warning", "intense_72h_heavy")),
        (72.0, "hard", True, None),
        (0.0, "easy", False, ("info", "easy_in_window")),
        (3.0, "moderate", True, ("info", "easy_in_window")),
        (47.99, "easy", True, ("info", "easy_in_window")),
        (48.0, "easy", True, None),  # the 72 h extension is for intense runs only (S3)
        (60.0, "moderate", True, None),
        (10.0, None, False, ("info", "unknown_in_window")),
        (10.0, "unknown", False, ("info", "unknown_in_window")),
        (-0.01, "hard", False, None),  # started before the leg session ended
        (-5.0, "easy", True, None),
    ],
)
def test_rule_table(
    gap_h: float, intensity: str | None, heavy: bool, expected: tuple[str, str] | None
) -> None:
    flags = flags_of(leg("L", T0, heavy=heavy), run("R", T0 + timedelta(hours=gap_h), intensity))
    if expected is None:
        assert flags.height == 0
    else:
        assert flags.height == 1
        assert (flags["severity"][0], flags["rule"][0]) == expected
        assert flags["hours_between"][0] == pytest.approx(gap_h)


def test_rule_ids_are_documented_in_the_module_docstring() -> None:
    import pipeline.derive.recovery as mod

    assert mod.__doc__ is not None
    for rule in RULES:
        assert f"``{rule.rule_id}``" in mod.__doc__
        assert rule.evidence and all(e.startswith("S") for e in rule.evidence)


def test_flag_records_run_leg_hours_and_a_sentence_with_the_numbers() -> None:
    flags = flags_of(
        leg("L", T0, heavy=True, score=9.6), run("R", T0 + timedelta(hours=13), "hard")
    )
    row = flags.row(0, named=True)
    assert flags.schema == pl.Schema(FLAG_SCHEMA)
    assert row["run_activity_id"] == "R"
    assert row["leg_activity_id"] == "L"
    assert row["leg_end_utc"] == T0
    assert row["run_intensity"] == "hard"
    assert row["leg_heavy"] is True
    assert row["leg_unaccustomed"] is False
    assert row["intense_ok_from_utc"] == T0 + timedelta(hours=72)
    assert row["message"] == (
        "Intervals (hard) started 13.0 h after the end of a heavy leg session "
        "(Back squat 5x5, leg score 9.6) — under the 24 h alert threshold; legs are advised "
        "ready for intense running from Thu 22 Oct 18:40 CEST (72 h)."
    )
    again = flags_of(
        leg("L", T0, heavy=True, score=9.6), run("R", T0 + timedelta(hours=13), "hard")
    )
    assert again["flag_id"].to_list() == flags["flag_id"].to_list()


def test_one_flag_per_run_strongest_wins_and_ties_go_to_the_most_recent_leg() -> None:
    rows = (
        leg("heavy_old", T0, heavy=True),  # run at +60 h: warning (72 h heavy)
        leg("light_new", T0 + timedelta(hours=20)),  # run at +40 h: warning (48 h)
        run("R", T0 + timedelta(hours=60)),
    )
    flags = flags_of(*rows)
    assert flags.height == 1
    assert flags["leg_activity_id"][0] == "light_new"  # same severity: most recent leg
    assert flags["rule"][0] == "intense_48h"

    rows2 = (
        leg("a", T0),  # run at +20 h: alert
        leg("b", T0 + timedelta(hours=10)),  # run at +10 h: alert as well; more recent
        leg("c", T0 + timedelta(hours=19, minutes=30)),  # run at +0.5 h: same_day, strongest rank
        run("R", T0 + timedelta(hours=20)),
    )
    flags2 = flags_of(*rows2)
    assert flags2.height == 1
    assert (flags2["leg_activity_id"][0], flags2["rule"][0]) == ("c", "same_day")


def test_run_during_a_leg_session_is_checked_against_earlier_sessions_only() -> None:
    current = leg("now", T0 + timedelta(hours=30))  # 29..30 h
    flags = flags_of(leg("prev", T0), current, run("R", T0 + timedelta(hours=29, minutes=30)))
    assert flags["leg_activity_id"].to_list() == ["prev"]
    assert flags["rule"].to_list() == ["intense_48h"]


def test_unaccustomed_after_a_layoff_extends_the_window_to_72h() -> None:
    rows = (
        leg("old", T0 - timedelta(days=20)),
        leg("L", T0),
        run("R", T0 + timedelta(hours=50)),
    )
    flags = flags_of(*rows)
    assert flags["rule"].to_list() == ["intense_72h_heavy"]
    assert flags["leg_unaccustomed"].to_list() == [True]
    assert "unaccustomed leg session (none in the 14 days before)" in flags["message"][0]
    # A leg session 7 days before keeps the athlete accustomed: 50 h is outside 48 h.
    rows_acc = (
        leg("old", T0 - timedelta(days=7)),
        leg("L", T0),
        run("R", T0 + timedelta(hours=50)),
    )
    assert flags_of(*rows_acc).height == 0


def test_first_leg_session_without_history_is_accustomed_unless_the_frame_reaches_back() -> None:
    no_history = (leg("L", T0), run("R", T0 + timedelta(hours=50)))
    assert flags_of(*no_history).height == 0
    short_history = (other("ride", T0 - timedelta(days=13)), *no_history)
    assert flags_of(*short_history).height == 0
    long_history = (other("ride", T0 - timedelta(days=15)), *no_history)
    flags = flags_of(*long_history)
    assert flags["leg_unaccustomed"].to_list() == [True]
    assert flags["rule"].to_list() == ["intense_72h_heavy"]


def test_dst_gaps_are_real_elapsed_hours() -> None:
    # Autumn (Berlin, 2026-10-25): 20:00 Sat -> 19:30 Sun local is 23.5 h on the wall clock,
    # 24.5 h of real time, so the 24 h alert does not apply.
    leg_end = datetime(2026, 10, 24, 20, 0, tzinfo=BERLIN).astimezone(UTC)
    run_start = datetime(2026, 10, 25, 19, 30, tzinfo=BERLIN).astimezone(UTC)
    autumn = flags_of(leg("L", leg_end), run("R", run_start))
    assert autumn["hours_between"][0] == pytest.approx(24.5)
    assert autumn["rule"][0] == "intense_48h"
    # Spring (2026-03-29): 20:00 Sat -> 20:30 Sun is 24.5 h on the wall clock, 23.5 h real.
    leg_end = datetime(2026, 3, 28, 20, 0, tzinfo=BERLIN).astimezone(UTC)
    run_start = datetime(2026, 3, 29, 20, 30, tzinfo=BERLIN).astimezone(UTC)
    spring = flags_of(leg("L", leg_end), run("R", run_start))
    assert spring["hours_between"][0] == pytest.approx(23.5)
    assert spring["rule"][0] == "intense_24h"


def test_other_time_zones_are_converted_and_naive_times_refused() -> None:
    berlin_frame = frame(leg("L", T0), run("R", T0 + timedelta(hours=5))).with_columns(
        pl.col("start_utc", "end_utc").dt.convert_time_zone("Europe/Berlin")
    )
    flags = recovery_flags(berlin_frame, DEFAULTS, 14)
    assert flags["hours_between"].to_list() == [pytest.approx(5.0)]
    naive = frame(leg("L", T0)).with_columns(pl.col("start_utc").dt.replace_time_zone(None))
    with pytest.raises(ValueError, match="naive"):
        recovery_flags(naive, DEFAULTS, 14)
    with pytest.raises(ValueError, match="heavy"):
        recovery_flags(frame(leg("L", T0)).drop("heavy"), DEFAULTS, 14)


def test_empty_sessions_give_an_empty_typed_frame() -> None:
    flags = recovery_flags(frame(), DEFAULTS, 14)
    assert flags.height == 0
    assert flags.schema == pl.Schema(FLAG_SCHEMA)


# --- properties -------------------------------------------------------------------------------

intensities = st.sampled_from(["easy", "moderate", "hard", "unknown", None])
gaps = st.floats(min_value=0.0, max_value=120.0, allow_nan=False)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


def _rank(flags: pl.DataFrame) -> int:
    return SEVERITY_RANK[flags["severity"][0]] if flags.height else 0


@settings(max_examples=150, deadline=None)
@given(
    before_us=st.integers(min_value=1, max_value=200 * 3600 * 10**6),
    intensity=intensities,
    heavy=st.booleans(),
    at=instants,
)
def test_property_no_flag_for_a_run_before_the_leg_session_ends(
    before_us: int, intensity: str | None, heavy: bool, at: datetime
) -> None:
    start = at - timedelta(microseconds=before_us)
    flags = flags_of(leg("L", at, heavy=heavy), run("R", start, intensity))
    assert flags.height == 0


@settings(max_examples=150, deadline=None)
@given(g1=gaps, g2=gaps, intensity=intensities, heavy=st.booleans(), layoff=st.booleans())
def test_property_severity_never_weakens_as_the_gap_shrinks(
    g1: float, g2: float, intensity: str | None, heavy: bool, layoff: bool
) -> None:
    short, long_ = sorted((g1, g2))
    history = [leg("old", T0 - timedelta(days=30))] if layoff else []

    def rank(gap: float) -> int:
        return _rank(
            flags_of(
                *history, leg("L", T0, heavy=heavy), run("R", T0 + timedelta(hours=gap), intensity)
            )
        )

    assert rank(short) >= rank(long_)


@settings(max_examples=150, deadline=None)
@given(
    leg_local=st.datetimes(min_value=datetime(2026, 3, 26), max_value=datetime(2026, 3, 31))
    | st.datetimes(min_value=datetime(2026, 10, 22), max_value=datetime(2026, 10, 27)),
    gap_min=st.integers(min_value=0, max_value=80 * 60),
)
def test_property_hours_are_real_elapsed_hours_across_dst(
    leg_local: datetime, gap_min: int
) -> None:
    leg_end = leg_local.replace(tzinfo=BERLIN).astimezone(UTC)
    run_start = leg_end + timedelta(minutes=gap_min)
    flags = flags_of(leg("L", leg_end), run("R", run_start, "hard"))
    real_h = gap_min / 60
    if real_h < DEFAULTS.warning_hours:
        assert flags["hours_between"].to_list() == [pytest.approx(real_h)]
        expected = "alert" if real_h < DEFAULTS.alert_hours else "warning"
        assert flags["severity"][0] == expected
    else:
        assert flags.height == 0


@settings(max_examples=100, deadline=None)
@given(
    offsets=st.lists(st.floats(min_value=-20, max_value=150, allow_nan=False), max_size=6),
    intensity_list=st.lists(intensities, min_size=6, max_size=6),
    heavy=st.booleans(),
    extra_at=st.floats(min_value=-24 * 14, max_value=24 * 10, allow_nan=False),
    extra_kind=st.sampled_from(["ride", "strength", "swim", "other", "run"]),
)
def test_property_adding_an_unrelated_non_leg_session_never_changes_flags(
    offsets: list[float],
    intensity_list: list[str | None],
    heavy: bool,
    extra_at: float,
    extra_kind: str,
) -> None:
    # The history starts 15 days before the first leg session, so the extra session (never
    # earlier than that) cannot change what counts as unaccustomed.
    base = [
        other("first", T0 - timedelta(days=15)),
        leg("L1", T0, heavy=heavy),
        leg("L2", T0 + timedelta(hours=30)),
        *(run(f"R{i}", T0 + timedelta(hours=h), intensity_list[i]) for i, h in enumerate(offsets)),
    ]
    extra = other("X", T0 + timedelta(hours=extra_at), extra_kind)
    if extra_kind == "run":
        extra = run("X", T0 + timedelta(hours=extra_at), "hard")
    before = flags_of(*base)
    after = flags_of(*base, extra).filter(pl.col("run_activity_id") != "X")
    assert after.equals(before)


# --- legs state -------------------------------------------------------------------------------


def test_legs_state_without_leg_sessions_is_ready() -> None:
    state = legs_state(frame(run("R", T0)), T0 + timedelta(days=1), DEFAULTS, 14)
    assert state["status"] == "ready"
    assert state["last_leg_activity_id"] is None
    assert state["intense_ok_from_utc"] is None


@pytest.mark.parametrize(
    ("heavy", "as_of_h", "ok_h", "status"),
    [
        (False, 10.0, 48.0, "recovering"),
        (False, 47.9, 48.0, "recovering"),
        (False, 48.0, 48.0, "ready"),
        (True, 60.0, 72.0, "recovering"),
        (True, 72.0, 72.0, "ready"),
    ],
)
def test_legs_state_windows(heavy: bool, as_of_h: float, ok_h: float, status: str) -> None:
    state = legs_state(
        frame(leg("L", T0, heavy=heavy)), T0 + timedelta(hours=as_of_h), DEFAULTS, 14
    )
    assert state["last_leg_activity_id"] == "L"
    assert state["hours_since"] == pytest.approx(as_of_h)
    assert state["heavy"] is heavy
    assert state["intense_ok_from_utc"] == T0 + timedelta(hours=ok_h)
    assert state["status"] == status


def test_legs_state_ignores_sessions_ending_later_and_keeps_a_longer_earlier_window() -> None:
    rows = frame(
        leg("heavy", T0, heavy=True),
        leg("light", T0 + timedelta(hours=10)),
        leg("future", T0 + timedelta(hours=40)),
    )
    state = legs_state(rows, T0 + timedelta(hours=30), DEFAULTS, 14)
    assert state["last_leg_activity_id"] == "light"
    assert state["limiting_leg_activity_id"] == "heavy"
    assert state["intense_ok_from_utc"] == T0 + timedelta(hours=72)
    assert state["status"] == "recovering"
    # Consistency with the flags: a hard run just before that instant is flagged.
    flags = flags_of(
        leg("heavy", T0, heavy=True),
        leg("light", T0 + timedelta(hours=10)),
        run("R", T0 + timedelta(hours=71.5)),
    )
    assert flags["severity"].to_list() == ["warning"]


def test_legs_state_requires_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        legs_state(frame(), datetime(2026, 1, 1), DEFAULTS, 14)
