"""Evidence from the athlete's own runs (pipeline.derive.evidence, pipeline.derive.evidence_measures): per-run
measures on lap frames, and bucket comparisons on synthetic histories with a known effect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.derive.evidence import (
    Bucket,
    Difference,
    EvidenceSettings,
    Measure,
    Verdict,
    bootstrap_difference,
    describe,
    evidence,
    hours_since_legs,
)
from pipeline.derive.evidence_measures import MEASURES_SCHEMA, run_measures

T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
LAP_SCHEMA = {
    "activity_id": pl.String(),
    "lap_index": pl.Int32(),
    "start_utc": pl.Datetime("us", "UTC"),
    "timer_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "avg_hr": pl.Int32(),
}


@dataclass
class History:
    runs: pl.DataFrame
    laps: pl.DataFrame
    legs: pl.DataFrame


def _laps(aid: str, start: datetime, speeds: list[float], hrs: list[float]) -> list[dict]:
    rows, t = [], start
    for i, (v, hr) in enumerate(zip(speeds, hrs, strict=True)):
        secs = 1000.0 / v
        rows.append(
            {
                "activity_id": aid,
                "lap_index": i,
                "start_utc": t,
                "timer_s": secs,
                "distance_m": 1000.0,
                "avg_hr": round(hr),
            }
        )
        t += timedelta(seconds=secs)
    return rows


def athlete(seed: int, *, effect: float, weeks: int = 24, effect_hours: float = 48.0) -> History:
    """One leg session a week (Monday 18:00-19:00) and a run most mornings: about ``weeks`` runs
    in each of 0-24/24-48/48-72 h and three times as many in the baseline. Within
    ``effect_hours`` of legs the heart rate at a given speed is ``1 / (1 - effect)`` higher, so
    efficiency (speed per beat) is ``effect`` lower."""
    rng = np.random.default_rng(seed)
    runs, laps, legs = [], [], []
    for week in range(weeks):
        monday = T0 + timedelta(weeks=week)
        leg_end = monday + timedelta(hours=19)
        legs.append({"activity_id": f"leg{week}", "end_utc": leg_end})
        for day in range(1, 7):
            if rng.random() < 0.1:
                continue  # a missed day
            start = monday + timedelta(days=day, hours=7, minutes=int(rng.integers(0, 60)))
            gap = (start - leg_end).total_seconds() / 3600.0
            speed = 3.0 * (1 + rng.normal(0, 0.03))
            factor = 1 / (1 - effect) if gap < effect_hours else 1.0
            day_hr = (60 + 30 * speed) * factor * (1 + rng.normal(0, 0.02))
            speeds = [speed * (1 + rng.normal(0, 0.01)) for _ in range(8)]
            hrs = [day_hr * (1 + 0.03 * (i >= 4)) * (1 + rng.normal(0, 0.01)) for i in range(8)]
            aid = f"run{week}-{day}"
            runs.append({"activity_id": aid, "start_utc": start})
            laps.extend(_laps(aid, start, speeds, hrs))
    return History(
        runs=pl.DataFrame(
            runs, schema={"activity_id": pl.String(), "start_utc": LAP_SCHEMA["start_utc"]}
        ),
        laps=pl.DataFrame(laps, schema=LAP_SCHEMA),
        legs=pl.DataFrame(
            legs, schema={"activity_id": pl.String(), "end_utc": LAP_SCHEMA["start_utc"]}
        ),
    )


def report(h: History, **kw: object):
    return evidence(h.runs, run_measures(h.laps), h.legs, EvidenceSettings(**kw))  # type: ignore[arg-type]


# --- per-run measures -------------------------------------------------------------------------


def test_efficiency_is_metres_per_beat_on_steady_laps() -> None:
    # 6 laps at 3 m/s and 150 bpm, plus a fast 400 m lap that is not steady.
    rows = _laps("r", T0, [3.0] * 6 + [5.0], [150.0] * 6 + [180.0])
    rows[-1]["distance_m"] = 400.0
    rows[-1]["timer_s"] = 80.0
    m = run_measures(pl.DataFrame(rows, schema=LAP_SCHEMA)).row(0, named=True)
    # 3 m/s at 2.5 beats/s is 1.2 m per beat; the warm-up lap is left out, 5 laps stay.
    assert m["efficiency_m_per_beat"] == pytest.approx(1.2)
    assert m["steady_s"] == pytest.approx(5 * 1000 / 3.0)
    assert m["hr_at_easy_pace_bpm"] == pytest.approx(150.0)
    assert m["cardiac_drift_pct"] == pytest.approx(0.0)


def test_cardiac_drift_is_the_loss_of_speed_per_beat_between_halves() -> None:
    rows = _laps("r", T0, [3.0] * 8, [150.0] * 4 + [165.0] * 4)
    m = run_measures(pl.DataFrame(rows, schema=LAP_SCHEMA)).row(0, named=True)
    assert m["cardiac_drift_pct"] == pytest.approx((1 - 150 / 165) * 100)


def test_drift_uses_hr_samples_when_given() -> None:
    rows = _laps("r", T0, [3.0] * 8, [150.0] * 8)  # lap averages say no drift
    end = rows[-1]["start_utc"] + timedelta(seconds=rows[-1]["timer_s"])
    half = rows[4]["start_utc"]
    ts = [T0 + timedelta(seconds=s) for s in range(0, int((end - T0).total_seconds()), 5)]
    bpm = [150 if t < half else 160 for t in ts]
    samples = pl.DataFrame({"activity_id": "r", "ts": ts, "bpm": bpm})
    m = run_measures(pl.DataFrame(rows, schema=LAP_SCHEMA), samples).row(0, named=True)
    assert m["cardiac_drift_pct"] == pytest.approx((1 - 150 / 160) * 100)


def test_short_or_unsteady_runs_give_no_measure() -> None:
    short = _laps("short", T0, [3.0], [150.0])  # 5.6 min
    mixed = _laps("mixed", T0, [2.0, 4.0, 2.0, 4.0, 2.0, 4.0], [130.0, 170.0] * 3)
    m = run_measures(pl.DataFrame(short + mixed, schema=LAP_SCHEMA)).sort("activity_id")
    assert m["cardiac_drift_pct"].null_count() == 2
    assert m.filter(pl.col("activity_id") == "short")["efficiency_m_per_beat"][0] is None


def test_hours_since_legs_buckets_and_leaves_out_runs_with_no_leg_before() -> None:
    legs = pl.DataFrame({"activity_id": ["l"], "end_utc": [T0]})
    runs = pl.DataFrame(
        {
            "activity_id": ["before", "a", "b", "c", "d"],
            "start_utc": [T0 - timedelta(hours=1)]
            + [T0 + timedelta(hours=h) for h in (0, 24, 71.9, 72)],
        }
    )
    out = hours_since_legs(runs, legs)
    assert out["bucket"].to_list() == [None, "0-24 h", "24-48 h", "48-72 h", "> 72 h"]


# --- synthetic histories ----------------------------------------------------------------------


def test_an_athlete_5_percent_less_efficient_within_48h_comes_out_as_such() -> None:
    rep = report(athlete(1, effect=0.05))
    for bucket in (Bucket.H0_24, Bucket.H24_48):
        r = rep.result(Measure.EFFICIENCY, bucket)
        assert r.verdict == Verdict.WORSE, describe(r)
        assert r.difference is not None and r.difference.high < 0
        assert -7.5 < r.difference.estimate < -2.5
        hr = rep.result(Measure.HR_AT_EASY_PACE, bucket)
        assert hr.verdict == Verdict.WORSE, describe(hr)
    assert rep.result(Measure.EFFICIENCY, Bucket.H48_72).verdict == Verdict.NO_CLEAR_DIFFERENCE
    eff = next(s for s in rep.suggestions if s.measure == Measure.EFFICIENCY)
    assert eff.hours == 48.0
    assert rep.suggested_window_hours == 48.0


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_an_athlete_without_the_effect_shows_none(seed: int) -> None:
    rep = report(athlete(seed, effect=0.0))
    for r in rep.results:
        assert r.verdict in (Verdict.NO_CLEAR_DIFFERENCE, Verdict.NOT_ENOUGH_DATA), describe(r)
        if r.difference is not None:
            assert r.difference.low <= 0.0 <= r.difference.high
    assert rep.suggested_window_hours is None


def test_a_short_history_is_not_enough_data_and_shows_no_number() -> None:
    rep = report(athlete(5, effect=0.05, weeks=3))
    assert all(r.verdict == Verdict.NOT_ENOUGH_DATA for r in rep.results)
    assert all(r.difference is None for r in rep.results)
    assert all(s.hours is None and "not enough data" in s.reason for s in rep.suggestions)
    assert "not enough data" in describe(rep.results[0])


def test_the_same_data_and_seed_give_the_same_report() -> None:
    h = athlete(6, effect=0.05, weeks=12)
    assert report(h) == report(h)


def test_measures_frame_must_have_the_measure_columns() -> None:
    h = athlete(7, effect=0.0, weeks=2)
    with pytest.raises(ValueError, match="lacks columns"):
        evidence(h.runs, pl.DataFrame({"activity_id": ["x"]}), h.legs)
    assert set(run_measures(h.laps).columns) == set(MEASURES_SCHEMA)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.5, 2.0), min_size=2, max_size=30),
    st.lists(st.floats(0.5, 2.0), min_size=2, max_size=30),
    st.booleans(),
)
def test_bootstrap_interval_is_ordered_and_follows_a_shift(
    bucket: list[float], base: list[float], relative: bool
) -> None:
    b, a = np.array(bucket), np.array(base)
    kw = {"relative": relative, "confidence": 0.99, "n_boot": 400}
    d = bootstrap_difference(b, a, rng=np.random.default_rng(0), **kw)  # type: ignore[arg-type]
    assert isinstance(d, Difference)
    assert d.low <= d.high
    # Raising every bucket value raises the estimate and both ends (same resamples).
    up = bootstrap_difference(b + 0.5, a, rng=np.random.default_rng(0), **kw)  # type: ignore[arg-type]
    assert up.estimate > d.estimate and up.low > d.low and up.high > d.high


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 10), st.sampled_from([0.0, 0.05]), st.integers(2, 12))
def test_never_a_number_without_its_interval(
    seed: int, weeks: int, effect: float, min_n: int
) -> None:
    rep = report(athlete(seed, effect=effect, weeks=weeks), min_n=min_n, n_boot=200)
    assert len(rep.results) == 9
    for r in rep.results:
        enough = r.n >= min_n and r.baseline_n >= min_n
        assert (r.difference is not None) == enough == (r.verdict != Verdict.NOT_ENOUGH_DATA)
        if r.difference is not None:
            assert r.difference.low <= r.difference.high
            worse = r.verdict == Verdict.WORSE
            assert not worse or r.difference.excludes_zero
    for s in rep.suggestions:
        assert s.hours in (None, 24.0, 48.0, 72.0)
