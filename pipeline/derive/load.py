"""Training load from session TRIMP: per local day, CTL/ATL/TSB and the ACWR, as report context.

Pure functions over polars frames (no I/O, no clock: ``as_of`` is always an argument). Sources
(domain.md section d, D2):

* PMC: CTL/ATL exponentially weighted with decay ``exp(-1/N)`` (GoldenCheetah PMCData.cpp and
  TrainingPeaks convention; Runalyze's ``2/(N+1)`` is not used), TSB = CTL - ATL.
* ACWR 7:28 days with Gabbett 2016 (BJSM 50:273) bands, shown as context only (Impellizzeri et al.
  2020 criticise the ratio).

The load never decides a recovery flag; the report shows it beside them.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.config import LoadSettings

#: ACWR bands (Gabbett 2016): upper bounds, exclusive; >= 1.5 is 'danger'.
ACWR_BANDS = ((0.8, "low"), (1.3, "sweet_spot"), (1.5, "high"), (math.inf, "danger"))


def daily_load(activities: pl.DataFrame, metrics: pl.DataFrame, tz: ZoneInfo) -> pl.DataFrame:
    """Banister TRIMP per local day of ``tz`` (DST-correct); a session counts on its start day.

    Days without sessions are absent (``load_context`` fills them with 0).
    """
    joined = activities.select("activity_id", "start_utc").join(
        metrics.select("activity_id", "trimp_banister"), on="activity_id", how="left"
    )
    return (
        joined.with_columns(
            local_date=pl.col("start_utc").dt.convert_time_zone(tz.key).dt.date(),
            trimp=pl.col("trimp_banister").fill_null(0.0),
        )
        .group_by("local_date")
        .agg(pl.col("trimp").sum())
        .sort("local_date")
        .select(pl.col("local_date").cast(pl.Date), pl.col("trimp").cast(pl.Float64))
    )


def acwr_band(acwr: float | None) -> str | None:
    """Gabbett 2016 band of an acute:chronic ratio (context, not a rule)."""
    if acwr is None:
        return None
    return next(name for upper, name in ACWR_BANDS if acwr < upper)


def load_context(daily: pl.DataFrame, as_of: date, settings: LoadSettings) -> dict[str, Any]:
    """Load as of the end of ``as_of``: 7/28-day sums, CTL, ATL, TSB, ACWR and its band.

    CTL/ATL start at 0 on the first day of ``daily``; days after ``as_of`` are ignored; missing
    days are rest days (0). The ACWR is None until the history covers the chronic window.
    """
    by_day: dict[date, float] = {}
    for d, t in daily.select("local_date", "trimp").iter_rows():
        if d <= as_of:
            by_day[d] = by_day.get(d, 0.0) + float(t or 0.0)
    method = (
        f"Banister TRIMP per local day; CTL/ATL = exponentially weighted daily TRIMP, "
        f"decay exp(-1/{settings.ctl_days}) and exp(-1/{settings.atl_days}) "
        "(GoldenCheetah/TrainingPeaks convention), TSB = CTL - ATL at the end of the day; "
        f"ACWR = mean of {settings.acute_days} d / mean of {settings.chronic_days} d "
        "(Gabbett 2016 bands, context only)"
    )
    if not by_day:
        return {
            "trimp_7d": 0.0,
            "trimp_28d": 0.0,
            "ctl": 0.0,
            "atl": 0.0,
            "tsb": 0.0,
            "acwr": None,
            "acwr_band": None,
            "method": method,
        }
    first = min(by_day)
    ctl_decay = math.exp(-1 / settings.ctl_days)
    atl_decay = math.exp(-1 / settings.atl_days)
    ctl = atl = 0.0
    day = first
    while day <= as_of:
        load = by_day.get(day, 0.0)
        ctl = ctl * ctl_decay + load * (1 - ctl_decay)
        atl = atl * atl_decay + load * (1 - atl_decay)
        day += timedelta(days=1)

    def window(days: int) -> float:
        start = as_of - timedelta(days=days - 1)
        return sum(v for d, v in by_day.items() if start <= d <= as_of)

    acute = window(settings.acute_days)
    chronic = window(settings.chronic_days)
    covered = (as_of - first).days + 1 >= settings.chronic_days
    acwr = None
    if covered and chronic > 0:
        acwr = (acute / settings.acute_days) / (chronic / settings.chronic_days)
    return {
        "trimp_7d": window(7),
        "trimp_28d": window(28),
        "ctl": ctl,
        "atl": atl,
        "tsb": ctl - atl,
        "acwr": acwr,
        "acwr_band": acwr_band(acwr),
        "method": method,
    }
