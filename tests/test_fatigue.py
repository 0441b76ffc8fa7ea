"""Lower-body fatigue channel (pipeline.derive.fatigue, pipeline.derive.fatigue_regions): the region table, the
dose of a set, the curve, the analytic legs-ready instant and the run flag."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.derive.fatigue import (
    DOSE_SCHEMA,
    FatigueSettings,
    fatigue_at,
    fatigue_curve,
    intensity_at,
    legs_ready_at,
    one_rm,
    region_ready_at,
    reps_possible,
    set_doses,
)
from pipeline.derive.fatigue_flags import fatigue_flag
from pipeline.derive.fatigue_regions import (
    CATEGORY_DEFAULTS,
    EXERCISE_REGIONS,
    NONE,
    REGIONS,
    UNKNOWN_LOWER,
    Region,
    missing_categories,
    resolve,
)
from pipeline.derive.recovery import SEVERITY_RANK
from pipeline.fit.profile import EXERCISE_CATEGORY, EXERCISE_NAMES

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
CFG = FatigueSettings()
SET_SCHEMA = {
    "activity_id": pl.String(),
    "set_index": pl.Int32(),
    "set_type": pl.String(),
    "start_utc": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64(),
    "repetitions": pl.Int32(),
    "weight_kg": pl.Float64(),
    "category": pl.String(),
    "exercise_name": pl.String(),
}


def sets(
    n: int,
    reps: int,
    weight: float | None,
    start: datetime = T0,
    aid: str = "legs",
    category: str = "squat",
    name: str | None = "barbell_back_squat",
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "activity_id": [aid] * n,
            "set_index": list(range(n)),
            "set_type": ["active"] * n,
            "start_utc": [start + timedelta(minutes=3 * i) for i in range(n)],
            "duration_s": [40.0] * n,
            "repetitions": [reps] * n,
            "weight_kg": [weight] * n,
            "category": [category] * n,
            "exercise_name": [name] * n,
        },
        schema=SET_SCHEMA,
    )


def hours(h: float) -> timedelta:
    return timedelta(hours=h)


# --- the region table -------------------------------------------------------------------------


def test_every_profile_category_has_an_explicit_default() -> None:
    assert missing_categories() == []
    assert set(CATEGORY_DEFAULTS) == set(EXERCISE_CATEGORY.values())


def test_every_profile_exercise_name_resolves_to_regions_or_explicitly_none() -> None:
    pairs = {(c, n) for c, names in EXERCISE_NAMES.items() for n in names.values()}
    assert set(EXERCISE_REGIONS) == pairs
    assert len(pairs) > 1800
    for (cat, name), res in EXERCISE_REGIONS.items():
        assert res.via in ("name", "keyword", "category"), (cat, name)
        assert all(0.0 <= res.weights.get(r) <= 1.0 for r in REGIONS)


@pytest.mark.parametrize(
    ("category", "name", "limiting"),
    [
        ("deadlift", "romanian_deadlift", Region.POSTERIOR_CHAIN),
        ("deadlift", "barbell_deadlift", Region.POSTERIOR_CHAIN),
        ("squat", "barbell_back_squat", Region.QUADRICEPS),
        ("squat", "leg_press", Region.QUADRICEPS),
        ("banded_exercises", "leg_extension", Region.QUADRICEPS),
        ("leg_curl", "leg_curl", Region.POSTERIOR_CHAIN),
        ("calf_raise", "standing_calf_raise", Region.CALVES),
        ("hip_raise", "barbell_hip_thrust_with_bench", Region.POSTERIOR_CHAIN),
        ("lunge", "dumbbell_bulgarian_split_squat", Region.QUADRICEPS),
        (None, "Back Squat", Region.QUADRICEPS),  # free text from a workout step
        (None, "RDL", Region.POSTERIOR_CHAIN),
    ],
)
def test_spot_checks_of_the_table(category: str | None, name: str, limiting: Region) -> None:
    w = resolve(category, name).weights
    assert max(REGIONS, key=w.get) == limiting
    assert w.get(limiting) == 1.0


def test_romanian_deadlift_barely_loads_the_quadriceps_and_leg_extension_only_them() -> None:
    assert resolve("deadlift", "romanian_deadlift").weights.quadriceps <= 0.2
    ext = resolve("banded_exercises", "leg_extension").weights
    assert (ext.posterior_chain, ext.calves) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("category", "name"),
    [
        ("bench_press", "barbell_bench_press"),
        ("warm_up", "stretch_lunge_with_spinal_twist"),
        ("pose", "low_lunge"),
        ("crunch", "leg_extensions"),
        ("calf_raise", "single_leg_decline_push_up"),
        ("leg_raise", "hanging_leg_raise"),
    ],
)
def test_non_leg_work_resolves_to_no_region(category: str, name: str) -> None:
    assert resolve(category, name).weights.is_none


def test_a_set_nothing_identifies_is_unknown() -> None:
    assert resolve("unknown", None).via == "unknown"
    assert resolve(None, "  ").weights == NONE


# --- dose of a set ----------------------------------------------------------------------------


def test_reference_session_peaks_at_one_and_is_ready_at_72h_not_48h() -> None:
    """Thomas et al. 2018: 10 x 5 back squat at 80 % 1RM -> impaired at 48 h, recovered by 72 h."""
    raw = 10 * 5 * intensity_at(0.8, 5, CFG) * CFG.heavy_multiplier
    assert raw * CFG.scale() == pytest.approx(1.0)
    assert math.exp(-48 / CFG.tau_quadriceps_h) > CFG.threshold
    assert math.exp(-72 / CFG.tau_quadriceps_h) == pytest.approx(CFG.threshold)
    assert CFG.tau_quadriceps_h == pytest.approx(31.27, abs=0.01)
    assert CFG.tau_calves_h == pytest.approx(20.85, abs=0.01)


def test_one_rm_formulas_and_their_inverse() -> None:
    assert one_rm(100, 5) == pytest.approx(116.667, abs=1e-3)
    assert one_rm(100, 10, "brzycki") == pytest.approx(133.333, abs=1e-3)
    for formula in ("epley", "brzycki"):
        rel = 100 / one_rm(100, 6, formula)
        assert reps_possible(rel, formula) == pytest.approx(6)


def test_relative_load_comes_from_the_athletes_own_history_after_enough_sets() -> None:
    d = set_doses(sets(5, 5, 100.0))
    assert d["load_basis"].to_list() == ["reps", "reps", "e1rm", "e1rm", "e1rm"]
    assert d["e1rm_kg"][2] == pytest.approx(one_rm(100, 5))
    assert d["relative_load"][2] == pytest.approx(100 / one_rm(100, 5))
    assert d["heavy"].all()


def test_sets_with_many_reps_do_not_set_a_1rm() -> None:
    d = set_doses(sets(5, 20, 40.0))
    assert d["load_basis"].unique().to_list() == ["reps"]


def test_rest_sets_are_ignored_and_schema_is_fixed() -> None:
    df = sets(4, 5, 100.0).with_columns(pl.Series("set_type", ["active", "rest"] * 2))
    d = set_doses(df)
    assert d.height == 2
    assert d.schema == pl.Schema(DOSE_SCHEMA)


def test_unknown_sets_take_the_sessions_possible_region() -> None:
    unknown = sets(3, 10, 50.0, category="unknown", name=None)
    lower = set_doses(unknown, pl.DataFrame({"activity_id": ["legs"], "region": ["lower"]}))
    upper = set_doses(unknown, pl.DataFrame({"activity_id": ["legs"], "region": ["upper"]}))
    assert lower["via"].unique().to_list() == ["session"]
    assert lower["dose_quadriceps"].sum() > 0
    assert upper["dose_quadriceps"].sum() == upper["dose_calves"].sum() == 0
    ratio = lower["dose_calves"][0] / lower["dose_quadriceps"][0]
    assert ratio == pytest.approx(UNKNOWN_LOWER.calves / UNKNOWN_LOWER.quadriceps)


def test_an_unaccustomed_session_doubles_the_dose() -> None:
    early = sets(3, 10, 50.0, start=T0 - timedelta(days=30), aid="early")
    later = sets(3, 10, 50.0, aid="later")
    both = pl.concat([early, later])
    d = set_doses(both)
    by = {aid: g for (aid,), g in d.group_by("activity_id")}
    assert by["later"]["unaccustomed"].all()  # 30 days without legs before it
    # the first session: no history before it, so it is not called unaccustomed
    assert not by["early"]["unaccustomed"].any()
    given = pl.DataFrame({"activity_id": ["later"], "unaccustomed": [False]})
    told = set_doses(both, given).filter(pl.col("activity_id") == "later")
    assert not told["unaccustomed"].any()
    ratio = by["later"]["dose_quadriceps"].sum() / told["dose_quadriceps"].sum()
    assert ratio == pytest.approx(CFG.unaccustomed_multiplier)
    # a history that starts late cannot tell a layoff from a short export
    assert not set_doses(later, history_start=T0 - timedelta(days=3))["unaccustomed"].any()
    assert set_doses(later, history_start=T0 - timedelta(days=15))["unaccustomed"].all()


def test_naive_times_are_refused() -> None:
    d = set_doses(sets(3, 5, 100.0))
    with pytest.raises(ValueError, match="tz-aware"):
        legs_ready_at(d, datetime(2026, 3, 3))


# --- heavy vs light, and the flag -------------------------------------------------------------


def _history() -> pl.DataFrame:
    """Three weeks of regular squat sessions a week apart (1RM known, accustomed)."""
    return pl.concat(
        [sets(5, 5, 100.0, start=T0 - timedelta(days=d), aid=f"h{d}") for d in (21, 14, 7)]
    )


def test_heavy_squat_session_keeps_legs_not_ready_longer_than_light_and_both_flag_at_12h() -> None:
    """Heavy: 6 x 4 at 90 % of the athlete's e1RM; light: 4 x 10 at 60 %."""
    history = _history()
    heavy = set_doses(pl.concat([history, sets(6, 4, 105.0)]))
    light = set_doses(pl.concat([history, sets(4, 10, 70.0)]))  # 60 % 1RM
    end = T0 + timedelta(minutes=20)
    heavy_ready, light_ready = legs_ready_at(heavy, end), legs_ready_at(light, end)
    assert heavy_ready is not None and light_ready is not None
    assert heavy_ready - light_ready > hours(12)
    assert heavy_ready - end > hours(48)
    for doses in (heavy, light):
        flag = fatigue_flag(doses, end + hours(12), "hard")
        assert flag is not None and flag.severity in ("warning", "alert")
    assert (
        SEVERITY_RANK[fatigue_flag(heavy, end + hours(12), "hard").severity]
        >= SEVERITY_RANK[  # type: ignore[union-attr]
            fatigue_flag(light, end + hours(12), "hard").severity  # type: ignore[union-attr]
        ]
    )


def test_flag_bands() -> None:
    d = set_doses(pl.concat([_history(), sets(6, 4, 105.0)]))
    end = T0 + timedelta(minutes=20)
    same_day = fatigue_flag(d, end + hours(3), "hard")
    assert same_day is not None and same_day.severity == "alert"
    assert same_day.limiting_region == Region.QUADRICEPS
    easy = fatigue_flag(d, end + hours(12), "easy")
    assert easy is not None and easy.severity == "info"
    ready = legs_ready_at(d, end)
    assert ready is not None
    assert fatigue_flag(d, ready + timedelta(minutes=1), "hard") is None
    late = fatigue_flag(d, ready - timedelta(hours=1), "hard")
    assert late is not None and late.severity == "warning"
    assert late.level < CFG.alert_level


def test_curve_is_long_form_per_region() -> None:
    d = set_doses(sets(5, 5, 100.0))
    c = fatigue_curve(d, T0 - hours(1), T0 + hours(71), hours(1))
    assert c.columns == ["time_utc", "region", "fatigue"]
    assert c.height == 73 * 3
    assert c["region"].unique().sort().to_list() == sorted(r.value for r in REGIONS)
    first = c.filter(pl.col("time_utc") == T0 - hours(1))
    assert first["fatigue"].to_list() == [0.0, 0.0, 0.0]


# --- properties ---------------------------------------------------------------------------------

dose_rows = st.lists(
    st.tuples(
        st.floats(0, 240),  # hours after T0
        st.floats(0, 2),
        st.floats(0, 2),
        st.floats(0, 2),
    ),
    min_size=0,
    max_size=12,
)


def _doses(rows: list[tuple[float, float, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time_utc": [T0 + hours(h) for h, *_ in rows],
            **{f"dose_{r.value}": [row[i + 1] for row in rows] for i, r in enumerate(REGIONS)},
        },
        schema={"time_utc": DOSE_SCHEMA["time_utc"]}
        | {f"dose_{r.value}": pl.Float64() for r in REGIONS},
    )


FAST = settings(max_examples=60, deadline=None)


@FAST
@given(dose_rows, st.tuples(st.floats(0, 240), st.floats(0, 2), st.floats(0, 2), st.floats(0, 2)))
def test_a_dose_never_lowers_fatigue(
    rows: list[tuple[float, float, float, float]], extra: tuple[float, float, float, float]
) -> None:
    before, after = _doses(rows), _doses([*rows, extra])
    for h in (0.0, extra[0], extra[0] + 5, 250.0):
        a, b = fatigue_at(before, T0 + hours(h)), fatigue_at(after, T0 + hours(h))
        assert all(b[r] >= a[r] - 1e-12 for r in REGIONS)


@FAST
@given(dose_rows, st.floats(0, 300), st.floats(0.01, 100))
def test_fatigue_never_rises_without_a_set(
    rows: list[tuple[float, float, float, float]], t1: float, gap: float
) -> None:
    quiet = [r for r in rows if not t1 < r[0] <= t1 + gap]
    d = _doses(quiet)
    a, b = fatigue_at(d, T0 + hours(t1)), fatigue_at(d, T0 + hours(t1 + gap))
    assert all(b[r] <= a[r] + 1e-12 for r in REGIONS)


@FAST
@given(dose_rows, st.integers(0, 11), st.floats(1, 5), st.floats(0, 250))
def test_a_larger_dose_never_makes_the_legs_ready_sooner(
    rows: list[tuple[float, float, float, float]], i: int, k: float, as_of_h: float
) -> None:
    if not rows:
        return
    i %= len(rows)
    bigger = [*rows]
    h, *dose = bigger[i]
    bigger[i] = (h, *(x * k for x in dose))  # type: ignore[assignment]
    as_of = T0 + hours(as_of_h)
    a, b = legs_ready_at(_doses(rows), as_of), legs_ready_at(_doses(bigger), as_of)
    assert (b or as_of) >= (a or as_of) - timedelta(microseconds=1)


@FAST
@given(dose_rows, st.floats(0, 250))
def test_legs_ready_at_agrees_with_the_sampled_curve(
    rows: list[tuple[float, float, float, float]], as_of_h: float
) -> None:
    as_of = T0 + hours(as_of_h)
    d = _doses([r for r in rows if r[0] <= as_of_h])
    ready = legs_ready_at(d, as_of)
    curve = fatigue_curve(d, as_of, as_of + hours(400), timedelta(minutes=30))
    peak = curve.group_by("time_utc").agg(pl.col("fatigue").max()).sort("time_utc")
    above = peak.filter(pl.col("fatigue") > CFG.threshold * (1 + 1e-9))
    if ready is None:
        assert above.height == 0
        return
    # The last sampled instant above the threshold lies within one step before `ready`.
    last_above = above["time_utc"].max()
    assert isinstance(last_above, datetime)
    assert timedelta(0) <= ready - last_above <= timedelta(minutes=30)
    levels = fatigue_at(d, ready)
    assert max(levels.values()) == pytest.approx(CFG.threshold, rel=1e-6)
    assert all(t is None or t <= ready for t in region_ready_at(d, as_of).values())


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 20), st.floats(0, 200)), min_size=1, max_size=8),
    st.integers(1, 20),
    st.floats(0, 200),
)
def test_appending_a_later_set_never_lowers_the_fatigue_before_it(
    history: list[tuple[int, float]], reps: int, weight: float
) -> None:
    rows = [
        sets(1, r, w or None, start=T0 + hours(6 * i), aid=f"s{i}")
        for i, (r, w) in enumerate(history)
    ]
    last = T0 + hours(6 * len(history))
    base = set_doses(pl.concat(rows))
    more = set_doses(pl.concat([*rows, sets(1, reps, weight or None, start=last, aid="new")]))
    for h in (0.0, 1.0, 24.0, 96.0):
        a, b = fatigue_at(base, last + hours(h)), fatigue_at(more, last + hours(h))
        assert all(b[r] >= a[r] - 1e-12 for r in REGIONS)
