"""Per-run measures that do not depend on the run's plan (issue 14, part 2), from frames shaped
like the store's ``laps`` (``activity_id, lap_index, start_utc, timer_s, distance_m, avg_hr``)
and, optionally, ``hr_samples`` (``activity_id, ts, bpm``). Pure polars/numpy, no I/O.

The store keeps no per-second speed, so speed comes from laps (auto-laps are 1 km on most
watches): a lap is one segment with one speed and one average heart rate.

* efficiency (m per heartbeat): distance over heartbeats on the run's steady laps. Steady = at
  least ``min_lap_s`` long and within ``steady_tolerance`` of the run's median lap speed; the
  first lap is left out when at least three remain, because heart rate lags speed at the start.
* heart rate at the athlete's usual easy pace (bpm): time-weighted mean HR of the laps run within
  ``easy_tolerance`` of that pace. The usual easy pace is the median steady speed over the runs
  (over ``easy_ids`` when the caller says which runs were easy), unless the caller passes it.
* cardiac drift (%, Pa:HR decoupling): speed per beat of the first half of the run's steady laps
  against the second, ``(EF1 - EF2) / EF1 x 100``, on runs at least ``min_steady_share`` steady
  with ``min_drift_s`` of steady laps (a final sprint is not drift). With ``hr_samples`` each half's HR is the mean of its
  samples; without, the time-weighted lap averages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl


@dataclass(frozen=True)
class MeasureSettings:
    """Segment rules of the per-run measures."""

    min_lap_s: float = 120.0
    steady_tolerance: float = 0.10
    min_steady_s: float = 600.0
    easy_tolerance: float = 0.075
    min_easy_s: float = 300.0
    min_drift_s: float = 1200.0
    min_steady_share: float = 0.8


MEASURES_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "steady_s": pl.Float64(),
    "steady_speed_m_s": pl.Float64(),
    "efficiency_m_per_beat": pl.Float64(),
    "hr_at_easy_pace_bpm": pl.Float64(),
    "cardiac_drift_pct": pl.Float64(),
}

_LAP_COLUMNS = ("activity_id", "timer_s", "distance_m", "avg_hr")


def _usable_laps(laps: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in _LAP_COLUMNS if c not in laps.columns]
    if missing:
        raise ValueError(f"laps frame lacks columns: {', '.join(missing)}")
    order = [c for c in ("activity_id", "lap_index", "start_utc") if c in laps.columns]
    return (
        laps.filter((pl.col("timer_s") > 0) & (pl.col("distance_m") > 0) & (pl.col("avg_hr") > 0))
        .with_columns((pl.col("distance_m") / pl.col("timer_s")).alias("speed"))
        .sort(order)
    )


def _steady_mask(t: np.ndarray, v: np.ndarray, cfg: MeasureSettings) -> np.ndarray:
    long_enough = t >= cfg.min_lap_s
    if not long_enough.any():
        return long_enough
    median = float(np.median(v[long_enough]))
    mask = long_enough & (np.abs(v / median - 1.0) <= cfg.steady_tolerance)
    idx = np.flatnonzero(mask)
    if idx.size >= 4:  # three or more left after the warm-up lap
        mask[idx[0]] = False
    return mask


def _halves_hr(
    samples: pl.DataFrame | None, bounds: tuple[Any, Any, Any]
) -> tuple[float, float] | None:
    start, mid, end = bounds
    if samples is None or samples.height == 0 or None in bounds:
        return None
    first = samples.filter((pl.col("ts") >= start) & (pl.col("ts") < mid))["bpm"]
    second = samples.filter((pl.col("ts") >= mid) & (pl.col("ts") < end))["bpm"]
    if first.len() < 10 or second.len() < 10:
        return None
    return float(first.mean()), float(second.mean())  # type: ignore[arg-type]


def _drift(
    rows: list[dict[str, Any]], samples: pl.DataFrame | None, cfg: MeasureSettings
) -> float | None:
    """Decoupling over the steady laps (a final sprint or a stop does not count as drift)."""
    t_all = np.array([r["timer_s"] for r in rows], dtype=float)
    v_all = np.array([r["speed"] for r in rows], dtype=float)
    mask = _steady_mask(t_all, v_all, cfg)
    t = t_all[mask]
    if t.sum() < cfg.min_drift_s or t.size < 2 or t.sum() < cfg.min_steady_share * t_all.sum():
        return None
    steady = [r for r, m in zip(rows, mask, strict=True) if m]
    first = (np.cumsum(t) - t / 2) < t.sum() / 2  # lap midpoint in the first half
    if first.all() or not first.any():
        return None
    d = np.array([r["distance_m"] for r in steady], dtype=float)
    hr = np.array([r["avg_hr"] for r in steady], dtype=float)
    last = steady[-1]
    end = (
        last["start_utc"] + timedelta(seconds=last["timer_s"])
        if last.get("start_utc") is not None
        else None
    )
    bounds = (steady[0].get("start_utc"), steady[int(np.argmin(first))].get("start_utc"), end)
    hrs = _halves_hr(samples, bounds) or (
        float(np.sum(hr[first] * t[first]) / t[first].sum()),
        float(np.sum(hr[~first] * t[~first]) / t[~first].sum()),
    )
    ef1 = d[first].sum() / t[first].sum() / hrs[0]
    ef2 = d[~first].sum() / t[~first].sum() / hrs[1]
    return float((ef1 - ef2) / ef1 * 100.0)


def usual_easy_speed(measures: pl.DataFrame, easy_ids: set[str] | None = None) -> float | None:
    """Median steady speed (m/s) over the runs, over ``easy_ids`` when given and non-empty."""
    df = measures.filter(pl.col("steady_speed_m_s").is_not_null())
    if easy_ids:
        easy = df.filter(pl.col("activity_id").is_in(sorted(easy_ids)))
        df = easy if easy.height else df
    return float(df["steady_speed_m_s"].median()) if df.height else None  # type: ignore[arg-type]


def run_measures(
    laps: pl.DataFrame,
    hr_samples: pl.DataFrame | None = None,
    *,
    easy_speed_m_s: float | None = None,
    easy_ids: set[str] | None = None,
    settings: MeasureSettings | None = None,
) -> pl.DataFrame:
    """One ``MEASURES_SCHEMA`` row per run that has usable laps; a measure the run cannot give
    (too short, not steady, never near the easy pace) is null."""
    cfg = settings or MeasureSettings()
    usable = _usable_laps(laps)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for row in usable.to_dicts():
        by_run.setdefault(str(row["activity_id"]), []).append(row)
    samples: dict[str, pl.DataFrame] = {}
    if hr_samples is not None and hr_samples.height:
        clean = hr_samples.filter(pl.col("ts").is_not_null() & (pl.col("bpm") > 0))
        samples = {str(k[0]): g for k, g in clean.group_by("activity_id") if str(k[0]) in by_run}
    out: list[dict[str, Any]] = []
    for aid, rows in by_run.items():
        t = np.array([r["timer_s"] for r in rows], dtype=float)
        v = np.array([r["speed"] for r in rows], dtype=float)
        hr = np.array([r["avg_hr"] for r in rows], dtype=float)
        d = np.array([r["distance_m"] for r in rows], dtype=float)
        mask = _steady_mask(t, v, cfg)
        steady_s = float(t[mask].sum())
        ok = steady_s >= cfg.min_steady_s
        out.append(
            {
                "activity_id": aid,
                "steady_s": steady_s,
                "steady_speed_m_s": float(d[mask].sum() / steady_s) if ok else None,
                "efficiency_m_per_beat": (
                    float(d[mask].sum() / np.sum(t[mask] * hr[mask] / 60.0)) if ok else None
                ),
                "hr_at_easy_pace_bpm": None,
                "cardiac_drift_pct": _drift(rows, samples.get(aid), cfg),
                "_laps": (t, v, hr),
            }
        )
    frame = pl.DataFrame([{k: r[k] for k in MEASURES_SCHEMA} for r in out], schema=MEASURES_SCHEMA)
    easy = easy_speed_m_s if easy_speed_m_s is not None else usual_easy_speed(frame, easy_ids)
    if easy is None or not out:
        return frame
    hr_easy: list[float | None] = []
    for r in out:
        t, v, hr = r["_laps"]
        near = (t >= cfg.min_lap_s) & (np.abs(v / easy - 1.0) <= cfg.easy_tolerance)
        enough = t[near].sum() >= cfg.min_easy_s
        hr_easy.append(float(np.sum(hr[near] * t[near]) / t[near].sum()) if enough else None)
    return frame.with_columns(pl.Series("hr_at_easy_pace_bpm", hr_easy, dtype=pl.Float64()))
