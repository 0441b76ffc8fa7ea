"""The recovery rules' input rows: the sessions frame checked and put in UTC, names, times.

Pure, no I/O: what ``pipeline.derive.recovery`` reads from the ``sessions`` frame before any
rule runs (required columns, tz-aware UTC instants, optional columns filled, a display name per
session, the run's intensity) and how an instant is written for a person (``format_local``).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import polars as pl

REQUIRED_COLUMNS = ("activity_id", "kind", "start_utc", "end_utc", "intensity", "heavy")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_local(ts: datetime, tz: tzinfo) -> str:
    """``Tue 21 Oct 18:40 CEST``: locale-independent, in the athlete's zone."""
    loc = ts.astimezone(tz)
    return f"{_DAYS[loc.weekday()]} {loc.day:02d} {_MONTHS[loc.month - 1]} {loc:%H:%M} {loc:%Z}"


def _as_utc(df: pl.DataFrame, col: str) -> pl.DataFrame:
    dtype = df.schema[col]
    if not isinstance(dtype, pl.Datetime):
        raise ValueError(f"sessions.{col} must be a tz-aware Datetime, got {dtype}")
    if dtype.time_zone is None:
        raise ValueError(f"sessions.{col} is naive; legday keeps tz-aware UTC instants")
    return df.with_columns(pl.col(col).dt.convert_time_zone("UTC").dt.cast_time_unit("us"))


def prepare(sessions: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in sessions.columns]
    if missing:
        raise ValueError(f"sessions frame lacks columns: {', '.join(missing)}")
    if "athlete_id" in sessions.columns and sessions["athlete_id"].n_unique() > 1:
        raise ValueError("sessions frame mixes athletes; pass one athlete's sessions")
    df = sessions
    for col in ("start_utc", "end_utc"):
        df = _as_utc(df, col)
    for col in ("name", "sport", "sub_sport", "region", "kind_source", "kind_reason"):
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String()).alias(col))
    if "leg_score" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64()).alias("leg_score"))
    return (
        df.filter(pl.col("start_utc").is_not_null())
        .with_columns(pl.coalesce("end_utc", "start_utc").alias("end_utc"))
        .sort(["start_utc", "activity_id"])
    )


def display_name(row: dict[str, Any], fallback: str) -> str:
    name = row.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    sport = row.get("sport")
    sub = row.get("sub_sport")
    if not isinstance(sport, str) or not sport:
        return fallback
    label = sport.replace("_", " ").capitalize()
    if isinstance(sub, str) and sub and sub != "generic":
        label += ", " + sub.replace("_", " ")
    return label


def run_intensity(value: object) -> str:
    if isinstance(value, str) and value in ("easy", "moderate", "hard"):
        return value
    return "unknown"
