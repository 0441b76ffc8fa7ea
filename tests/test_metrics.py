"""Zones, TRIMP, intensity labels, HR profile fallbacks and load context: hand numbers and invariants."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import AthleteSettings, IntensitySettings, LoadSettings
from pipeline.derive.load import acwr_band, daily_load, load_context
from pipeline.derive.metrics import METRICS_SCHEMA, HrProfile, resolve_hr_profile, session_metrics

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PROFILE = HrProfile(200, "configured", 50, "configured", 180, "configured", "male")
INT = IntensitySettings()
ORDER = ["easy", "moderate", "hard"]


def run_frames(
    bpms: list[int],
    *,
    step_s: float = 1.0,
    rpe: float | None = None,
    kind: str = "run",
    summary_avg: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One activity with one HR sample every ``step_s`` seconds (plus a final sample)."""
    n = len(bpms)
    acts = pl.DataFrame(
        {
            "activity_id": ["r1"],
            "start_utc": [T0],
            "timer_s": [n * step_s],
            "elapsed_s": [n * step_s],
            "avg_hr": [summary_avg],
            "max_hr": [None],
            "workout_rpe": [rpe],
        },
        schema_overrides={
            "avg_hr": pl.Int32,
            "max_hr": pl.Int32,
            "workout_rpe": pl.Float64,
            "start_utc": pl.Datetime("us", "UTC"),
        },
    )
    kinds = pl.DataFrame({"activity_id": ["r1"], "kind": [kind]})
    ts = [T0 + timedelta(seconds=i * step_s) for i in range(n + 1)] if n else []
    hr = pl.DataFrame(
        {
            "activity_id": ["r1"] * len(ts),
            "ts": ts,
            "bpm": [*bpms, bpms[-1]] if n else [],
            "source": ["record"] * len(ts),
        },
        schema={
            "activity_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "bpm": pl.Int32,
            "source": pl.String,
        },
    )
    return acts, kinds, hr


def metrics_of(bpms: list[int], profile: HrProfile = PROFILE, **kw: object) -> dict[str, object]:
    cfg = kw.pop("cfg", INT)
    assert isinstance(cfg, IntensitySettings)
    acts, kinds, hr = run_frames(bpms, **kw)  # type: ignore[arg-type]
    out = session_metrics(acts, kinds, hr, profile, cfg)
    assert out.height == 1
    return out.row(0, named=True)


# --- zones and TRIMP against hand computations -------------------------------------------------


def test_zone_seconds_hrmax_hrr_lthr_by_hand() -> None:
    # 60 s at each of 95, 130, 150, 170, 185 bpm; HRmax 200, rest 50, LTHR 180.
    bpms = [95] * 60 + [130] * 60 + [150] * 60 + [170] * 60 + [185] * 60
    m = metrics_of(bpms)
    # %HRmax floors 100/120/140/160/180: 95 -> Z1 (below the floor counts in Z1)
    assert [m[f"hrmax_z{i}_s"] for i in range(1, 6)] == [60, 60, 60, 60, 60]
    # %HRR floors 125/140/155/170/185: 95->Z1, 130->Z1, 150->Z2, 170->Z4, 185->Z5
    assert [m[f"hrr_z{i}_s"] for i in range(1, 6)] == [120, 60, 0, 60, 60]
    # %LTHR floors 153/162/171/180: 95,130,150 -> Z1, 170 -> Z3 (162-170), 185 -> Z5
    assert [m[f"lthr_z{i}_s"] for i in range(1, 6)] == [180, 0, 60, 0, 60]
    assert [m[f"z{i}_s"] for i in range(1, 6)] == [60, 60, 60, 60, 60]  # configured = hrmax
    assert m["z4plus_s"] == 120
    assert m["hr_seconds"] == 300
    assert m["avg_hr"] == pytest.approx(146.0)
    assert m["peak_hr"] == 185
    # Edwards: 95 bpm < 50 % counts 0; then 1..4 + 5 for one minute each = 14
    assert m["trimp_edwards"] == pytest.approx(1 + 2 + 3 + 4 + 5 - 1)


def test_banister_by_hand() -> None:
    # 30 min at 155 bpm: HRr = (155-50)/150 = 0.7
    m = metrics_of([155] * 1800)
    hrr = 0.7
    assert m["trimp_banister"] == pytest.approx(30 * hrr * 0.64 * math.exp(1.92 * hrr))
    female = HrProfile(200, "configured", 50, "configured", 180, "configured", "female")
    assert metrics_of([155] * 1800, female)["trimp_banister"] == pytest.approx(
        30 * hrr * 0.64 * math.exp(1.67 * hrr)
    )
    unknown = HrProfile(200, "configured", 50, "configured", 180, "configured", None)
    assert metrics_of([155] * 1800, unknown)["trimp_banister"] == pytest.approx(
        30 * hrr * 0.64 * math.exp(1.795 * hrr)
    )


def test_gaps_are_capped() -> None:
    # 10 samples 60 s apart: each counts the 10 s cap, the last counts 0.
    m = metrics_of([150] * 10, step_s=60.0)
    assert m["hr_samples"] == 11
    assert m["hr_seconds"] == pytest.approx(100.0)


def test_implausible_samples_are_dropped_and_duplicates_merged() -> None:
    acts, kinds, hr = run_frames([150] * 10)
    noisy = pl.concat([hr, hr.with_columns(source=pl.lit("hr")), hr.head(3).with_columns(bpm=0)])
    m = session_metrics(acts, kinds, noisy, PROFILE, INT).row(0, named=True)
    assert m["hr_samples"] == 11
    assert m["hr_seconds"] == 10.0


def test_summary_fallback_without_samples() -> None:
    acts, kinds, _ = run_frames([150] * 600, summary_avg=155)
    empty_hr = pl.DataFrame(
        schema={"activity_id": pl.String, "ts": pl.Datetime("us", "UTC"), "bpm": pl.Int32}
    )
    m = session_metrics(acts, kinds, empty_hr, PROFILE, INT).row(0, named=True)
    assert m["hr_source"] == "summary"
    assert m["hr_seconds"] == 0
    assert m["trimp_banister"] == pytest.approx(10 * 0.7 * 0.64 * math.exp(1.92 * 0.7))
    assert m["avg_hr"] == 155


def test_schema_and_non_runs_have_no_label() -> None:
    acts, kinds, hr = run_frames([150] * 60, kind="leg_strength")
    out = session_metrics(acts, kinds, hr, PROFILE, INT)
    assert out.schema == pl.Schema(METRICS_SCHEMA)
    row = out.row(0, named=True)
    assert row["intensity"] is None and row["trimp_banister"] > 0
    assert (row["max_hr_used"], row["max_hr_source"]) == (200, "configured")


# --- intensity labels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bpms", "rpe", "label", "fragment"),
    [
        ([170] * 600 + [120] * 3000, None, "hard", "10.0 min in Z4+"),  # 10 min Z4 of 60
        ([170] * 599 + [120] * 3001, None, "easy", "10.0 min"),  # 9.98 min: not yet
        ([165] * 300 + [120] * 900, None, "hard", ">= 20%"),  # 5 min = 25 % of 20 min
        ([172] * 1800, None, "hard", "86% HRmax 200 (configured) >= 85%"),  # but Z4 anyway
        ([150] * 3600, None, "moderate", "in Z3+ >= 20%"),
        ([125] * 3600, None, "easy", "avg 125 bpm"),
        ([125] * 3600, 8.0, "hard", "RPE 8 >= 7"),
        ([125] * 3600, 6.0, "easy", "RPE 6 < 7"),
    ],
)
def test_labels(bpms: list[int], rpe: float | None, label: str, fragment: str) -> None:
    m = metrics_of(bpms, rpe=rpe)
    assert m["intensity"] == label, m["intensity_reason"]
    assert fragment in str(m["intensity_reason"])


def test_avg_pct_hrr_rule() -> None:
    # HRmax 200, rest 40: 162 bpm = 81 % HRmax (< 85 %) but (162-40)/160 = 76 % HRR (>= 75 %).
    prof = HrProfile(200, "configured", 40, "configured", 195, "configured", "male")
    cfg = IntensitySettings(hard_z4plus_minutes=1000, hard_z4plus_share=1.1)
    m = metrics_of([162] * 1800, prof, cfg=cfg)
    assert m["intensity"] == "hard"
    assert "76% HRR (rest 40) >= 75%" in str(m["intensity_reason"])


def test_no_hr_no_rpe_is_unknown_and_rpe_alone_decides() -> None:
    acts, kinds, _ = run_frames([150] * 10)
    no_hr = pl.DataFrame(
        schema={"activity_id": pl.String, "ts": pl.Datetime("us", "UTC"), "bpm": pl.Int32}
    )
    m = session_metrics(acts, kinds, no_hr, PROFILE, INT).row(0, named=True)
    assert (m["intensity"], m["hr_source"]) == ("unknown", "none")
    acts = acts.with_columns(workout_rpe=pl.lit(8.0))
    assert session_metrics(acts, kinds, no_hr, PROFILE, INT)["intensity"][0] == "hard"


def test_lthr_zone_model_is_configurable() -> None:
    # 160 bpm: Z4 of %HRmax (>= 160) but Z2 of %LTHR 180 (153-161); 73 % HRR.
    bpms = [160] * 1200
    assert metrics_of(bpms)["intensity"] == "hard"
    lthr_cfg = IntensitySettings(zone_model="lthr")
    m = metrics_of(bpms, cfg=lthr_cfg)
    assert m["z4plus_s"] == 0
    assert m["intensity"] == "moderate", m["intensity_reason"]  # 80 % HRmax >= 75 %


# --- HR profile --------------------------------------------------------------------------------


def test_profile_fallbacks() -> None:
    as_of = date(2026, 6, 1)
    p = resolve_hr_profile(AthleteSettings(max_hr=185, resting_hr=48, lthr=170), 199, as_of)
    assert (p.max_hr, p.max_hr_source, p.resting_hr, p.lthr_source) == (
        185,
        "configured",
        48,
        "configured",
    )
    p = resolve_hr_profile(AthleteSettings(birth_year=1986), 193, as_of)
    assert (p.max_hr, p.max_hr_source) == (193, "observed")
    p = resolve_hr_profile(AthleteSettings(birth_year=1986), None, as_of)
    assert (p.max_hr, p.max_hr_source) == (180, "age_formula")  # 208 - 0.7 * 40
    p = resolve_hr_profile(AthleteSettings(), None, as_of)
    assert (p.max_hr, p.max_hr_source) == (190, "default")
    assert (p.resting_hr, p.resting_hr_source) == (60, "default")
    assert (p.lthr, p.lthr_source) == (171, "estimated")
    assert p.sex is None


# --- load ---------------------------------------------------------------------------------------


def test_daily_load_uses_local_days_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    starts = [
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 00:30 CET on 29 March (DST starts 02:00)
        datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # 00:30 CEST on 30 March
        datetime(2026, 3, 29, 21, 30, tzinfo=UTC),  # 23:30 CEST on 29 March
    ]
    acts = pl.DataFrame({"activity_id": ["a", "b", "c"], "start_utc": starts})
    metrics = pl.DataFrame({"activity_id": ["a", "b", "c"], "trimp_banister": [10.0, 20.0, None]})
    out = daily_load(acts, metrics, berlin)
    assert out.to_dicts() == [
        {"local_date": date(2026, 3, 29), "trimp": 10.0},
        {"local_date": date(2026, 3, 30), "trimp": 20.0},
    ]


def test_load_context_by_hand() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(28)]
    daily = pl.DataFrame({"local_date": days, "trimp": [50.0] * 28})
    ctx = load_context(daily, date(2026, 1, 28), LoadSettings())
    assert ctx["trimp_7d"] == 350.0 and ctx["trimp_28d"] == 1400.0
    assert ctx["ctl"] == pytest.approx(50 * (1 - math.exp(-28 / 42)))
    assert ctx["atl"] == pytest.approx(50 * (1 - math.exp(-28 / 7)))
    assert ctx["tsb"] == pytest.approx(ctx["ctl"] - ctx["atl"])
    assert ctx["acwr"] == pytest.approx(1.0)
    assert ctx["acwr_band"] == "sweet_spot"
    assert "exp(-1/42)" in ctx["method"]
    short = load_context(daily, date(2026, 1, 20), LoadSettings())
    assert short["acwr"] is None  # history shorter than the chronic window
    later = load_context(daily, date(2026, 2, 3), LoadSettings())  # 6 rest days
    assert later["trimp_7d"] == 50.0
    assert later["acwr"] == pytest.approx((50 / 7) / (1100 / 28))
    assert later["acwr_band"] == "low"


@pytest.mark.parametrize(
    ("acwr", "band"),
    [(None, None), (0.5, "low"), (0.8, "sweet_spot"), (1.29, "sweet_spot"), (1.3, "high"),
     (1.49, "high"), (1.5, "danger"), (3.0, "danger")],
)  # fmt: skip
def test_acwr_bands(acwr: float | None, band: str | None) -> None:
    assert acwr_band(acwr) == band


def test_empty_history() -> None:
    empty = pl.DataFrame(schema={"local_date": pl.Date, "trimp": pl.Float64})
    ctx = load_context(empty, date(2026, 1, 1), LoadSettings())
    assert ctx["ctl"] == 0.0 and ctx["acwr"] is None


# --- invariants --------------------------------------------------------------------------------

bpm_lists = st.lists(st.integers(min_value=30, max_value=220), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(bpms=bpm_lists, extra=st.lists(st.integers(30, 220), min_size=1, max_size=30))
def test_trimp_nonnegative_and_monotone_in_duration(bpms: list[int], extra: list[int]) -> None:
    a = metrics_of(bpms)
    b = metrics_of(bpms + extra)
    assert a["trimp_banister"] >= 0 and a["trimp_edwards"] >= 0
    assert b["trimp_banister"] >= a["trimp_banister"] - 1e-9
    assert b["trimp_edwards"] >= a["trimp_edwards"] - 1e-9


@settings(max_examples=60, deadline=None)
@given(bpms=bpm_lists, rise=st.integers(0, 25), rpe=st.none() | st.floats(0, 10))
def test_uniform_rise_never_lowers_trimp_or_label(
    bpms: list[int], rise: int, rpe: float | None
) -> None:
    a = metrics_of(bpms, rpe=rpe)
    b = metrics_of([x + rise for x in bpms], rpe=rpe)
    assert b["trimp_banister"] >= a["trimp_banister"] - 1e-9
    assert b["trimp_edwards"] >= a["trimp_edwards"] - 1e-9
    assert ORDER.index(str(b["intensity"])) >= ORDER.index(str(a["intensity"]))


@settings(max_examples=60, deadline=None)
@given(
    bpms=bpm_lists,
    gaps=st.lists(st.floats(0.5, 30), min_size=1, max_size=120),
)
def test_zone_seconds_sum_to_counted_time(bpms: list[int], gaps: list[float]) -> None:
    ts = [T0]
    for g in gaps[: len(bpms)]:
        ts.append(ts[-1] + timedelta(seconds=g))
    hr = pl.DataFrame(
        {"activity_id": "r1", "ts": ts, "bpm": (bpms + bpms)[: len(ts)], "source": "record"},
        schema_overrides={"bpm": pl.Int32},
    )
    acts, kinds, _ = run_frames(bpms)
    m = session_metrics(acts, kinds, hr, PROFILE, INT).row(0, named=True)
    for model in ("hrmax", "hrr", "lthr"):
        total = sum(m[f"{model}_z{i}_s"] for i in range(1, 6))
        assert total == pytest.approx(m["hr_seconds"])
    assert m["hr_seconds"] <= 10.0 * (len(ts) - 1) + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    loads=st.lists(st.floats(0, 500), min_size=1, max_size=60),
    rest_days=st.integers(1, 10),
)
def test_a_rest_day_never_raises_ctl_or_atl(loads: list[float], rest_days: int) -> None:
    start = date(2026, 1, 1)
    daily = pl.DataFrame(
        {"local_date": [start + timedelta(days=i) for i in range(len(loads))], "trimp": loads}
    )
    last = start + timedelta(days=len(loads) - 1)
    before = load_context(daily, last, LoadSettings())
    after = load_context(daily, last + timedelta(days=rest_days), LoadSettings())
    assert after["ctl"] <= before["ctl"] + 1e-9
    assert after["atl"] <= before["atl"] + 1e-9
    assert before["ctl"] >= 0 and before["atl"] >= 0
