"""Lower-body fatigue as a curve per leg region (issue 14, part 1): pure functions, no I/O.

Each active strength set adds a dose to the regions it loads (``fatigue_regions``); each region
decays exponentially with its own time constant; the legs are ready when every region is at or
below a threshold. Units: 1.0 is a region's fatigue right after the reference session of Thomas
et al. 2018 (10 x 5 back squat at 80 % 1RM, trained lifters), whose quadriceps were still
impaired at 48 h and recovered by 72 h. docs/fatigue.md derives every default.

Dose of one set, per region r::

    dose_r = weight_r x reps x intensity x heavy_multiplier? x unaccustomed_multiplier? x scale

``intensity`` = relative load x proximity to failure. The relative load is the set's weight over
the athlete's own estimated 1RM for that exercise (Epley or Brzycki over their earlier and current
sets, once ``min_sets_for_1rm`` usable sets exist); proximity = reps / reps possible at that load.
Without a 1RM the set is scored by reps alone: the load and proximity of a set of that many reps
done with ``reps_in_reserve`` reps left. The heavy multiplier marks sets of <= ``heavy_max_reps``
near-maximal reps (Helland et al. 2020: a 5RM session was not recovered at 48 h, an equal-work
power session was); the unaccustomed one marks sessions with no leg session in the
``unaccustomed_days`` before (S4, repeated-bout effect; the same rule as pipeline.derive.recovery).

Input frames: ``sets`` shaped like the store's ``strength_sets`` (``activity_id, set_index,
set_type, start_utc, duration_s, repetitions, weight_kg, category, exercise_name``; one athlete)
and optional ``sessions`` (``activity_id``, ``region`` = the session's possible region from
classification, used for sets nothing identifies; optional ``unaccustomed`` overrides the rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl

from pipeline.derive.fatigue_regions import POSSIBLE_REGION_WEIGHTS, REGIONS, Region, resolve
from pipeline.fit.schemas import UTC_TS

LN10 = math.log(10.0)

#: Reference session (Thomas et al. 2018): sets, reps, relative load; heavy and accustomed.
REFERENCE_SETS, REFERENCE_REPS, REFERENCE_LOAD = 10, 5, 0.80


@dataclass(frozen=True)
class FatigueSettings:
    """Constants of the fatigue model; docs/fatigue.md derives each default."""

    #: Quadriceps: 10x5 @ 80 % 1RM resolved by 72 h -> 90 % gone at 72 h: 72 / ln 10 = 31.3 h.
    tau_quadriceps_h: float = 72.0 / LN10
    #: Posterior chain: deadlift performance back only by 72 h (Korak et al. 2015) -> 31.3 h.
    tau_posterior_chain_h: float = 72.0 / LN10
    #: Calves: no calf-specific course in the sources; the rules' 48 h base window -> 20.8 h.
    tau_calves_h: float = 48.0 / LN10
    #: Ready when every region is at or below this (0.1 = 90 % of the reference peak gone).
    threshold: float = 0.1
    #: Hard run at or above this level: alert (the reference session's level at 24 h, S2/S3).
    alert_level: float = math.exp(-24.0 / (72.0 / LN10))
    #: Hard run within this many hours of the last dosing set (level above threshold): alert (S1).
    same_day_hours: float = 6.0
    heavy_multiplier: float = 2.0
    heavy_max_reps: int = 6
    heavy_min_relative_load: float = 0.75
    unaccustomed_multiplier: float = 2.0
    unaccustomed_days: int = 14
    one_rm_formula: Literal["epley", "brzycki"] = "epley"
    min_sets_for_1rm: int = 3
    max_reps_for_1rm: int = 12  # rep-max formulas lose accuracy beyond ~10-12 reps
    reps_in_reserve: float = 2.0
    seconds_per_rep: float = 3.0  # sets with a duration but no rep count (wall sits, sled)
    default_reps: int = 8  # sets with neither
    #: Dose units -> fatigue units; None calibrates so the reference session peaks at 1.0.
    dose_scale: float | None = None

    def __post_init__(self) -> None:
        for name in ("tau_quadriceps_h", "tau_posterior_chain_h", "tau_calves_h", "threshold"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FatigueSettings.{name} must be > 0")
        if self.alert_level < self.threshold:
            raise ValueError("FatigueSettings.alert_level must be >= threshold")
        if self.heavy_multiplier < 1 or self.unaccustomed_multiplier < 1:
            raise ValueError("FatigueSettings multipliers must be >= 1")

    def tau(self, region: Region) -> float:
        return float(getattr(self, f"tau_{region.value}_h"))

    def scale(self) -> float:
        if self.dose_scale is not None:
            return self.dose_scale
        raw = REFERENCE_SETS * REFERENCE_REPS * intensity_at(REFERENCE_LOAD, REFERENCE_REPS, self)
        return 1.0 / (raw * self.heavy_multiplier)


def one_rm(weight_kg: float, reps: float, formula: str = "epley") -> float:
    """Estimated 1RM from a set (Epley: w(1 + r/30); Brzycki: w x 36 / (37 - r))."""
    if formula == "brzycki":
        return weight_kg * 36.0 / (37.0 - min(reps, 36.0))
    return weight_kg * (1.0 + reps / 30.0)


def reps_possible(relative_load: float, formula: str = "epley") -> float:
    """Reps a lifter can do at a fraction of 1RM (the formulas solved for reps)."""
    rel = min(max(relative_load, 1e-6), 1.0)
    if formula == "brzycki":
        return 37.0 - 36.0 * rel
    return 30.0 * (1.0 / rel - 1.0)


def intensity_at(relative_load: float, reps: float, settings: FatigueSettings) -> float:
    """Relative load x proximity to failure (reps / reps possible, capped at 1)."""
    possible = reps_possible(relative_load, settings.one_rm_formula)
    proximity = 1.0 if possible <= reps else reps / possible
    return min(max(relative_load, 0.0), 1.0) * proximity


def intensity_by_reps(reps: float, settings: FatigueSettings) -> float:
    """Intensity of a set known only by its reps: done with ``reps_in_reserve`` reps left."""
    to_failure = reps + settings.reps_in_reserve
    rel = 1.0 / (one_rm(1.0, to_failure, settings.one_rm_formula))
    return rel * reps / to_failure


DOSE_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "set_index": pl.Int32(),
    "time_utc": UTC_TS,
    "exercise": pl.String(),  # exercise name, else category, else 'unknown'
    "via": pl.String(),  # how the regions were found: name, keyword, category, session, unknown
    "reps": pl.Float64(),
    "weight_kg": pl.Float64(),
    "e1rm_kg": pl.Float64(),  # null when the set is scored by reps alone
    "relative_load": pl.Float64(),
    "load_basis": pl.String(),  # 'e1rm' | 'reps'
    "heavy": pl.Boolean(),
    "unaccustomed": pl.Boolean(),
    **{f"dose_{r.value}": pl.Float64() for r in REGIONS},
}

_SET_COLUMNS = ("activity_id", "start_utc", "repetitions", "weight_kg", "category")


def _reps(row: dict[str, object], settings: FatigueSettings) -> float:
    reps = row.get("repetitions")
    if isinstance(reps, int | float) and reps > 0:
        return float(reps)
    duration = row.get("duration_s")
    if isinstance(duration, int | float) and duration > 0:
        return float(min(30, max(1, round(duration / settings.seconds_per_rep))))
    return float(settings.default_reps)


def _unaccustomed(
    starts: dict[str, datetime], history_start: datetime | None, days: int
) -> dict[str, bool]:
    """Per leg session: no other leg session started in the ``days`` before it (pipeline.derive.recovery's
    rule: with none before it at all, only when the history reaches back that far)."""
    span = timedelta(days=days)
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    out: dict[str, bool] = {}
    for i, (aid, start) in enumerate(ordered):
        previous = [s for _, s in ordered[:i] if s < start]
        if any(s >= start - span for s in previous):
            out[aid] = False
        elif previous:
            out[aid] = True
        else:
            out[aid] = history_start is not None and history_start <= start - span
    return {k: days > 0 and v for k, v in out.items()}


def set_doses(
    sets: pl.DataFrame,
    sessions: pl.DataFrame | None = None,
    settings: FatigueSettings | None = None,
    *,
    history_start: datetime | None = None,
) -> pl.DataFrame:
    """One ``DOSE_SCHEMA`` row per active set, in time order, with why it weighs what it does.

    ``history_start``: where the athlete's records begin (default: the first set); a first leg
    session counts as unaccustomed only if the history reaches ``unaccustomed_days`` before it.
    """
    cfg = settings or FatigueSettings()
    missing = [c for c in _SET_COLUMNS if c not in sets.columns]
    if missing:
        raise ValueError(f"sets frame lacks columns: {', '.join(missing)}")
    if "athlete_id" in sets.columns and sets["athlete_id"].n_unique() > 1:
        raise ValueError("sets frame mixes athletes; pass one athlete's sets")
    df = sets.filter(pl.col("start_utc").is_not_null())
    if "set_type" in df.columns:
        df = df.filter(pl.col("set_type").is_null() | (pl.col("set_type") != "rest"))
    df = df.with_columns(pl.col("start_utc").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    sort_cols = ["start_utc", "activity_id"] + (["set_index"] if "set_index" in df.columns else [])
    rows = df.sort(sort_cols).to_dicts()
    possible: dict[str, str] = {}
    given_unacc: dict[str, bool] = {}
    if sessions is not None and sessions.height:
        for s in sessions.to_dicts():
            aid = str(s["activity_id"])
            if isinstance(s.get("region"), str):
                possible[aid] = s["region"]
            if isinstance(s.get("unaccustomed"), bool):
                given_unacc[aid] = s["unaccustomed"]

    resolved = []
    leg_starts: dict[str, datetime] = {}
    for row in rows:
        aid = str(row["activity_id"])
        res = resolve(row.get("category"), row.get("exercise_name"))
        weights, via = res.weights, res.via
        if via == "unknown" and possible.get(aid) in POSSIBLE_REGION_WEIGHTS:
            weights, via = POSSIBLE_REGION_WEIGHTS[possible[aid]], "session"
        resolved.append((weights, via))
        if not weights.is_none:
            leg_starts[aid] = min(leg_starts.get(aid, row["start_utc"]), row["start_utc"])
    first = rows[0]["start_utc"] if rows else None
    unacc = _unaccustomed(leg_starts, history_start or first, cfg.unaccustomed_days)
    unacc.update({k: v for k, v in given_unacc.items() if k in unacc})

    scale = cfg.scale()
    best: dict[str, float] = {}  # exercise -> highest e1RM so far
    count: dict[str, int] = {}  # exercise -> usable sets so far
    out: list[dict[str, object]] = []
    for row, (weights, via) in zip(rows, resolved, strict=True):
        aid = str(row["activity_id"])
        exercise = str(row.get("exercise_name") or row.get("category") or "unknown")
        reps = _reps(row, cfg)
        w = row.get("weight_kg")
        weight = float(w) if isinstance(w, int | float) and w > 0 else None
        if weight is not None and 1 <= reps <= cfg.max_reps_for_1rm:
            count[exercise] = count.get(exercise, 0) + 1
            best[exercise] = max(best.get(exercise, 0.0), one_rm(weight, reps, cfg.one_rm_formula))
        e1rm: float | None = None
        if weight is not None and count.get(exercise, 0) >= cfg.min_sets_for_1rm:
            e1rm = best[exercise]
            rel = min(weight / e1rm, 1.0)
            intensity = intensity_at(rel, reps, cfg)
            heavy = reps <= cfg.heavy_max_reps and rel >= cfg.heavy_min_relative_load
        else:
            intensity = intensity_by_reps(reps, cfg)
            rel = intensity * (reps + cfg.reps_in_reserve) / reps
            heavy = reps <= cfg.heavy_max_reps and weight is not None
        unaccustomed = unacc.get(aid, False)
        factor = reps * intensity * scale
        factor *= cfg.heavy_multiplier if heavy else 1.0
        factor *= cfg.unaccustomed_multiplier if unaccustomed else 1.0
        out.append(
            {
                "activity_id": aid,
                "set_index": row.get("set_index"),
                "time_utc": row["start_utc"],
                "exercise": exercise,
                "via": via,
                "reps": reps,
                "weight_kg": weight,
                "e1rm_kg": e1rm,
                "relative_load": rel,
                "load_basis": "e1rm" if e1rm is not None else "reps",
                "heavy": heavy,
                "unaccustomed": unaccustomed,
                **{f"dose_{r.value}": weights.get(r) * factor for r in REGIONS},
            }
        )
    return pl.DataFrame(out, schema=DOSE_SCHEMA)


def utc_instant(ts: datetime, name: str) -> datetime:
    """``ts`` as a UTC instant; naive datetimes are refused (legday keeps UTC inside)."""
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be tz-aware (UTC inside legday)")
    return ts.astimezone(UTC)


def _hours_before(doses: pl.DataFrame, t: datetime) -> tuple[np.ndarray, pl.DataFrame]:
    """Doses at or before ``t`` and their age in hours at ``t``."""
    past = doses.filter(pl.col("time_utc") <= t)
    micros = (pl.lit(t, dtype=UTC_TS) - pl.col("time_utc")).dt.total_microseconds()
    ages = past.select(micros.cast(pl.Float64) / 3.6e9).to_series().to_numpy()
    return ages, past


def fatigue_at(
    doses: pl.DataFrame, t: datetime, settings: FatigueSettings | None = None
) -> dict[Region, float]:
    """Each region's fatigue at instant ``t`` from the doses at or before it."""
    cfg = settings or FatigueSettings()
    ages, past = _hours_before(doses, utc_instant(t, "t"))
    return {
        r: float(np.sum(past[f"dose_{r.value}"].to_numpy() * np.exp(-ages / cfg.tau(r))))
        for r in REGIONS
    }


def fatigue_curve(
    doses: pl.DataFrame,
    start: datetime,
    end: datetime,
    step: timedelta,
    settings: FatigueSettings | None = None,
) -> pl.DataFrame:
    """Fatigue per region on the grid start, start+step, .. <= end: ``time_utc, region, fatigue``
    (long form, region order as in ``REGIONS``)."""
    cfg = settings or FatigueSettings()
    start, end = utc_instant(start, "start"), utc_instant(end, "end")
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    n = int((end - start) / step) + 1 if end >= start else 0
    times = [start + i * step for i in range(n)]
    grid_h = np.array([i * step.total_seconds() / 3600.0 for i in range(n)], dtype=float)
    before = doses.filter(pl.col("time_utc") <= start)
    inside = doses.filter((pl.col("time_utc") > start) & (pl.col("time_utc") <= end))
    base = fatigue_at(before, start, cfg) if before.height else dict.fromkeys(REGIONS, 0.0)
    since_start = (pl.col("time_utc") - pl.lit(start, dtype=UTC_TS)).dt.total_microseconds()
    at_h = inside.select(since_start.cast(pl.Float64) / 3.6e9).to_series().to_numpy()
    age = grid_h[:, None] - at_h[None, :]  # hours since each dose, per grid point
    frames = []
    for r in REGIONS:
        tau = cfg.tau(r)
        d = inside[f"dose_{r.value}"].to_numpy()
        contrib = np.where(age >= 0, d[None, :] * np.exp(-np.clip(age, 0, None) / tau), 0.0)
        level = base[r] * np.exp(-grid_h / tau) + contrib.sum(axis=1)
        frames.append(
            pl.DataFrame(
                {"time_utc": times, "region": [r.value] * n, "fatigue": level},
                schema={"time_utc": UTC_TS, "region": pl.String(), "fatigue": pl.Float64()},
            )
        )
    return pl.concat(frames)


def region_ready_at(
    doses: pl.DataFrame, as_of: datetime, settings: FatigueSettings | None = None
) -> dict[Region, datetime | None]:
    """Per region, the instant it falls to the threshold given the doses up to ``as_of`` (None:
    at or below it already). Analytic: level(t) = L x exp(-(t - as_of)/tau)."""
    cfg = settings or FatigueSettings()
    as_of = utc_instant(as_of, "as_of")
    out: dict[Region, datetime | None] = {}
    for r, level in fatigue_at(doses, as_of, cfg).items():
        if level <= cfg.threshold:
            out[r] = None
        else:
            out[r] = as_of + timedelta(hours=cfg.tau(r) * math.log(level / cfg.threshold))
    return out


def legs_ready_at(
    doses: pl.DataFrame, as_of: datetime, settings: FatigueSettings | None = None
) -> datetime | None:
    """When every region is at or below the threshold, counting the doses up to ``as_of``;
    None when the legs are ready at ``as_of`` already."""
    times = [t for t in region_ready_at(doses, as_of, settings).values() if t is not None]
    return max(times) if times else None
