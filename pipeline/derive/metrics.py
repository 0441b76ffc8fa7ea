"""Heart-rate intensity of each session: zones, TRIMP, run intensity labels.

Pure functions over polars frames (no I/O, no clock: ``as_of`` is always an argument). Sources
(domain.md section d, D2):

* Zones: %HRmax with Garmin's default 50/60/70/80/90 % bounds (Garmin manual); %HRR (Karvonen,
  ``rest + f * (max - rest)``, same fractions of the reserve); %LTHR with Friel's run zones
  collapsed to five (Z1 < 85 %, Z2 85-89, Z3 90-94, Z4 95-99, Z5 >= 100 %; Z5a-c merged).
  Time below the Z1 floor is counted in Z1, so the five zones always add up to the counted HR
  time (Edwards TRIMP below still ignores time under 50 % HRmax, as Edwards defines it).
* Banister TRIMP: ``sum(minutes * HRr * k * exp(b * HRr))``, ``HRr = (HR - rest)/(max - rest)``
  clipped at 0, k = 0.64, b = 1.92 (men) / 1.67 (women) as GoldenCheetah; unknown sex uses the
  mean exponent b = 1.795 as Runalyze does (Runalyze's own k differs for women, 0.821776; we
  keep GoldenCheetah's k = 0.64 for everyone).
* Edwards TRIMP (Edwards 1993): minutes in 50-60/60-70/70-80/80-90/90-100 % HRmax x 1..5.
* Intense run (D2, S3 Burt, Doma & Connor 2023: > 75 % VO2max impairs running economy at 24 and
  48 h; S4 Assumpção et al. 2013: ~90 % VO2max): >= ``hard_z4plus_minutes`` or
  ``hard_z4plus_share`` in Z4+, average >= ``hard_avg_pct_hrmax`` of HRmax or
  ``hard_avg_pct_hrr`` of HRR, or CR-10 ``workout_rpe`` >= ``hard_rpe`` (Foster 2001).
* HRmax fallback: configured, else observed (the caller's max over 12 months), else Tanaka
  ``208 - 0.7 * age`` (never 220 - age: SEE 7-11 bpm, Robergs & Landwehr 2002), else 190.

Sample durations: each HR sample lasts until the next one, capped at ``max_gap_s`` (10 s by
default: Garmin smart recording writes every 1-7 s; a longer gap is a pause or a dropout, and
counting it whole would inflate zones and TRIMP). The last sample of a session lasts 0 s.

Training load over days (PMC, ACWR) is ``pipeline.derive.load``; its functions are importable
from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from pipeline.config import AthleteSettings, IntensitySettings
from pipeline.derive.load import ACWR_BANDS, acwr_band, daily_load, load_context

__all__ = [
    "ACWR_BANDS",
    "METRICS_SCHEMA",
    "HrProfile",
    "acwr_band",
    "banister_factor",
    "daily_load",
    "label_intensity",
    "load_context",
    "resolve_hr_profile",
    "session_metrics",
]

MAX_SAMPLE_GAP_S = 10.0
#: Samples outside this range are sensor noise (0 = no contact, 255 = invalid in FIT).
PLAUSIBLE_BPM = (25, 250)
DEFAULT_MAX_HR = 190
DEFAULT_RESTING_HR = 60
LTHR_FROM_MAX = 0.9

HRMAX_BOUNDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # Garmin default zones, lower bounds of Z1..Z5
HRR_BOUNDS = HRMAX_BOUNDS  # same fractions of the heart-rate reserve (Karvonen)
LTHR_BOUNDS = (0.0, 0.85, 0.90, 0.95, 1.00)  # Friel run zones, Z5a-c merged
EDWARDS_BOUNDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # x1..x5; below 50 % HRmax counts nothing

BANISTER_K = 0.64
BANISTER_B = {"male": 1.92, "female": 1.67, None: (1.92 + 1.67) / 2}


MODELS = ("hrmax", "hrr", "lthr")


@dataclass(frozen=True)
class HrProfile:
    """Heart-rate anchors of one athlete, each with where it came from."""

    max_hr: int
    max_hr_source: str  # 'configured' | 'observed' | 'age_formula' | 'default'
    resting_hr: int
    resting_hr_source: str  # 'configured' | 'default'
    lthr: int
    lthr_source: str  # 'configured' | 'estimated'
    sex: str | None

    def zone_floors(self, model: str) -> tuple[float, ...]:
        """Lower bounds (bpm) of Z1..Z5 of a zone model."""
        if model == "hrmax":
            return tuple(f * self.max_hr for f in HRMAX_BOUNDS)
        if model == "hrr":
            reserve = self.max_hr - self.resting_hr
            return tuple(self.resting_hr + f * reserve for f in HRR_BOUNDS)
        if model == "lthr":
            return tuple(f * self.lthr for f in LTHR_BOUNDS)
        raise ValueError(f"unknown zone model {model!r}; expected one of {', '.join(MODELS)}")


def resolve_hr_profile(
    athlete: AthleteSettings, observed_max_hr: int | None, as_of: date
) -> HrProfile:
    """HRmax, resting HR and LTHR with fallbacks (configured > observed > Tanaka > 190)."""
    if athlete.max_hr is not None:
        max_hr, max_src = athlete.max_hr, "configured"
    elif observed_max_hr is not None and observed_max_hr > 0:
        max_hr, max_src = int(observed_max_hr), "observed"
    elif athlete.birth_year is not None:
        age = as_of.year - athlete.birth_year
        max_hr, max_src = round(208 - 0.7 * age), "age_formula"
    else:
        max_hr, max_src = DEFAULT_MAX_HR, "default"
    if athlete.resting_hr is not None:
        rest, rest_src = athlete.resting_hr, "configured"
    else:
        rest, rest_src = DEFAULT_RESTING_HR, "default"
    if athlete.lthr is not None:
        lthr, lthr_src = athlete.lthr, "configured"
    else:
        lthr, lthr_src = round(LTHR_FROM_MAX * max_hr), "estimated"
    return HrProfile(max_hr, max_src, rest, rest_src, lthr, lthr_src, athlete.sex)


def _zone_index(bpm: pl.Expr, floors: tuple[float, ...]) -> pl.Expr:
    """1..5; anything below the Z2 floor is Z1."""
    expr = pl.lit(1, pl.Int8)
    for i, floor in enumerate(floors[1:], start=2):
        expr = pl.when(bpm >= floor).then(pl.lit(i, pl.Int8)).otherwise(expr)
    return expr


def banister_factor(bpm: pl.Expr, profile: HrProfile) -> pl.Expr:
    """TRIMP per minute at a heart rate: HRr * k * exp(b * HRr), HRr clipped at 0."""
    b = BANISTER_B.get(profile.sex, BANISTER_B[None])
    reserve = max(profile.max_hr - profile.resting_hr, 1)
    hrr = ((bpm.cast(pl.Float64) - profile.resting_hr) / reserve).clip(lower_bound=0.0)
    return hrr * BANISTER_K * (hrr * b).exp()


def _edwards_factor(bpm: pl.Expr, max_hr: int) -> pl.Expr:
    expr = pl.lit(0.0)
    for i, f in enumerate(EDWARDS_BOUNDS, start=1):
        expr = pl.when(bpm >= f * max_hr).then(pl.lit(float(i))).otherwise(expr)
    return expr


def _sample_seconds(hr: pl.DataFrame, max_gap_s: float) -> pl.DataFrame:
    lo, hi = PLAUSIBLE_BPM
    return (
        hr.select("activity_id", "ts", "bpm")
        .filter(pl.col("bpm").is_between(lo, hi))
        # record and hr messages can both carry a timestamp: one value per instant
        .group_by("activity_id", "ts")
        .agg(pl.col("bpm").max())
        .sort("activity_id", "ts")
        .with_columns(
            dt=(pl.col("ts").shift(-1).over("activity_id") - pl.col("ts"))
            .dt.total_microseconds()
            .truediv(1e6)
            .fill_null(0.0)
            .clip(upper_bound=max_gap_s)
        )
    )


METRICS_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "hr_samples": pl.Int32(),
    "hr_seconds": pl.Float64(),
    "avg_hr": pl.Float64(),
    "peak_hr": pl.Int32(),
    **{f"z{i}_s": pl.Float64() for i in range(1, 6)},
    **{f"{m}_z{i}_s": pl.Float64() for m in MODELS for i in range(1, 6)},
    "z4plus_s": pl.Float64(),
    "trimp_banister": pl.Float64(),
    "trimp_edwards": pl.Float64(),
    "intensity": pl.String(),
    "intensity_reason": pl.String(),
    "max_hr_used": pl.Int32(),
    "max_hr_source": pl.String(),
    "hr_source": pl.String(),  # 'samples' | 'summary' (session avg HR x timer) | 'none'
}


def session_metrics(
    activities: pl.DataFrame,
    kinds: pl.DataFrame,
    hr: pl.DataFrame,
    profile: HrProfile,
    settings: IntensitySettings,
    *,
    max_gap_s: float = MAX_SAMPLE_GAP_S,
) -> pl.DataFrame:
    """One row per activity of ``activities``: HR time in zones, TRIMP and the run label.

    ``kinds`` is the output of ``classify`` (``activity_id``, ``kind``); only runs get an
    ``intensity``. Without HR samples, TRIMP falls back to the session's average HR over its
    timer time (Runalyze does the same) and ``hr_source`` says 'summary'.
    """
    samples = _sample_seconds(hr, max_gap_s)
    zone_cols: list[pl.Expr] = []
    for model in MODELS:
        idx = _zone_index(pl.col("bpm"), profile.zone_floors(model))
        for i in range(1, 6):
            zone_cols.append(
                pl.when(idx == i).then(pl.col("dt")).otherwise(0.0).sum().alias(f"{model}_z{i}_s")
            )
    agg = samples.group_by("activity_id").agg(
        pl.len().cast(pl.Int32).alias("hr_samples"),
        pl.col("dt").sum().alias("hr_seconds"),
        (pl.col("bpm") * pl.col("dt")).sum().alias("_bpm_s"),
        pl.col("bpm").mean().alias("_bpm_mean"),
        pl.col("bpm").max().cast(pl.Int32).alias("peak_hr"),
        *zone_cols,
        (banister_factor(pl.col("bpm"), profile) * pl.col("dt") / 60).sum().alias("_ban"),
        (_edwards_factor(pl.col("bpm"), profile.max_hr) * pl.col("dt") / 60).sum().alias("_edw"),
    )
    base_cols = ["activity_id", "avg_hr", "max_hr", "timer_s", "elapsed_s", "workout_rpe"]
    acts = activities.select([c for c in base_cols if c in activities.columns])
    for c, dtype in (("workout_rpe", pl.Float64), ("timer_s", pl.Float64)):
        if c not in acts.columns:
            acts = acts.with_columns(pl.lit(None, dtype).alias(c))
    acts = acts.rename({"avg_hr": "_sum_avg", "max_hr": "_sum_max"})
    frame = (
        acts.join(kinds.select("activity_id", "kind"), on="activity_id", how="left")
        .join(agg, on="activity_id", how="left", maintain_order="left")
        .with_columns(pl.col("hr_samples").fill_null(0), pl.col("hr_seconds").fill_null(0.0))
    )
    summary_minutes = pl.coalesce(pl.col("timer_s"), pl.col("elapsed_s")).fill_null(0.0) / 60
    has_samples = pl.col("hr_seconds") > 0
    has_summary = pl.col("_sum_avg").is_not_null() & (pl.col("_sum_avg") > 0)
    frame = frame.with_columns(
        hr_source=pl.when(has_samples)
        .then(pl.lit("samples"))
        .when(has_summary)
        .then(pl.lit("summary"))
        .otherwise(pl.lit("none")),
        avg_hr=pl.when(has_samples)
        .then(pl.col("_bpm_s") / pl.col("hr_seconds"))
        .when(pl.col("hr_samples") > 0)
        .then(pl.col("_bpm_mean"))
        .otherwise(pl.col("_sum_avg").cast(pl.Float64)),
        peak_hr=pl.coalesce(pl.col("peak_hr"), pl.col("_sum_max")).cast(pl.Int32),
        trimp_banister=pl.when(has_samples)
        .then(pl.col("_ban"))
        .when(has_summary)
        .then(banister_factor(pl.col("_sum_avg"), profile) * summary_minutes)
        .otherwise(0.0),
        trimp_edwards=pl.when(has_samples)
        .then(pl.col("_edw"))
        .when(has_summary)
        .then(_edwards_factor(pl.col("_sum_avg"), profile.max_hr) * summary_minutes)
        .otherwise(0.0),
    )
    model = settings.zone_model
    frame = frame.with_columns(
        [pl.col(f"{m}_z{i}_s").fill_null(0.0) for m in MODELS for i in range(1, 6)]
    ).with_columns(
        [pl.col(f"{model}_z{i}_s").alias(f"z{i}_s") for i in range(1, 6)],
        z4plus_s=pl.col(f"{model}_z4_s") + pl.col(f"{model}_z5_s"),
        max_hr_used=pl.lit(profile.max_hr, pl.Int32),
        max_hr_source=pl.lit(profile.max_hr_source),
    )
    labels = [
        label_intensity(row, profile, settings) if row["kind"] == "run" else (None, None)
        for row in frame.iter_rows(named=True)
    ]
    frame = frame.with_columns(
        intensity=pl.Series([lab[0] for lab in labels], dtype=pl.String),
        intensity_reason=pl.Series([lab[1] for lab in labels], dtype=pl.String),
    )
    return frame.select([pl.col(c).cast(t) for c, t in METRICS_SCHEMA.items()])


def _pct(x: float) -> str:
    return f"{x:.0%}"


def label_intensity(
    row: dict[str, Any], profile: HrProfile, settings: IntensitySettings
) -> tuple[str, str]:
    """``(label, reason)`` of one run from its metrics row (keys as in ``METRICS_SCHEMA``).

    Uses ``hr_seconds``, ``z4plus_s``, the configured model's ``<model>_z3_s``, ``avg_hr`` and
    ``workout_rpe``; the reason lists the numbers that decided.
    """
    model = settings.zone_model
    secs = float(row.get("hr_seconds") or 0.0)
    z4 = float(row.get("z4plus_s") or 0.0)
    z3plus = z4 + float(row.get(f"{model}_z3_s") or 0.0)
    avg = row.get("avg_hr")
    rpe = row.get("workout_rpe")
    src = f"{profile.max_hr_source}"
    if not secs and avg is None and rpe is None:
        return "unknown", "unknown: no heart rate and no RPE recorded"
    mins = secs / 60
    reserve = max(profile.max_hr - profile.resting_hr, 1)
    hard: list[str] = []
    moderate: list[str] = []
    facts: list[str] = []
    if secs:
        z4_share = z4 / secs
        z4_txt = f"{z4 / 60:.1f} min in Z4+ ({_pct(z4_share)} of {mins:.0f} min, {model} zones)"
        if z4 / 60 >= settings.hard_z4plus_minutes:
            hard.append(f"{z4_txt} >= {settings.hard_z4plus_minutes:g} min")
        elif z4_share >= settings.hard_z4plus_share:
            hard.append(f"{z4_txt} >= {_pct(settings.hard_z4plus_share)}")
        else:
            facts.append(z4_txt)
        z3_share = z3plus / secs
        z3_txt = f"{_pct(z3_share)} in Z3+"
        if z3_share >= settings.moderate_z3plus_share:
            moderate.append(f"{z3_txt} >= {_pct(settings.moderate_z3plus_share)}")
        else:
            facts.append(z3_txt)
    if avg is not None:
        avg = float(avg)
        pct_max = avg / profile.max_hr
        pct_hrr = (avg - profile.resting_hr) / reserve
        avg_txt = f"avg {avg:.0f} bpm = {_pct(pct_max)} HRmax {profile.max_hr} ({src})"
        hrr_txt = f"{_pct(pct_hrr)} HRR (rest {profile.resting_hr})"
        if pct_max >= settings.hard_avg_pct_hrmax:
            hard.append(f"{avg_txt} >= {_pct(settings.hard_avg_pct_hrmax)}")
        elif pct_hrr >= settings.hard_avg_pct_hrr:
            hard.append(f"{avg_txt}, {hrr_txt} >= {_pct(settings.hard_avg_pct_hrr)}")
        elif pct_max >= settings.moderate_avg_pct_hrmax:
            moderate.append(f"{avg_txt} >= {_pct(settings.moderate_avg_pct_hrmax)}")
        else:
            facts.append(f"{avg_txt}, {hrr_txt}")
    if rpe is not None:
        if rpe >= settings.hard_rpe:
            hard.append(f"RPE {rpe:g} >= {settings.hard_rpe:g}")
        else:
            facts.append(f"RPE {rpe:g} < {settings.hard_rpe:g}")
    if hard:
        return "hard", "hard: " + "; ".join(hard)
    if moderate:
        return "moderate", "moderate: " + "; ".join(moderate)
    if not secs and avg is None:
        return "easy", "easy: no heart rate; " + "; ".join(facts)
    return "easy", "easy: " + "; ".join(facts)
