"""Run flags under ``recovery.model = "fatigue"`` (issue 14): the leg fatigue at a run's start,
mapped to pipeline.derive.recovery's severities. Pure; docs/fatigue.md section 4 has the bands."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from pipeline.derive.fatigue import FatigueSettings, fatigue_at, legs_ready_at, utc_instant
from pipeline.derive.fatigue_regions import REGIONS, Region
from pipeline.derive.recovery import Severity


@dataclass(frozen=True)
class FatigueFlag:
    """A run flagged under ``recovery.model = "fatigue"``, with the numbers behind it."""

    run_start_utc: datetime
    severity: Severity
    level: float  # the highest region's fatigue at the run's start
    limiting_region: Region
    levels: dict[Region, float]
    threshold: float
    hours_since_last_dose: float
    ready_at_utc: datetime | None  # when the legs were/are ready, given the doses before the run
    evidence: tuple[str, ...]


def fatigue_flag(
    doses: pl.DataFrame,
    run_start: datetime,
    run_intensity: str | None,
    settings: FatigueSettings | None = None,
) -> FatigueFlag | None:
    """Flag a run by the leg fatigue at its start, or None when every region is at or below the
    threshold. Severity bands (same names as pipeline.derive.recovery): a 'hard' run is an ``alert`` at
    or above ``alert_level`` or within ``same_day_hours`` of the last dosing set, else a
    ``warning``; any other intensity (easy, moderate, unknown) is ``info``, as in the rules."""
    cfg = settings or FatigueSettings()
    t = utc_instant(run_start, "run_start")
    levels = fatigue_at(doses, t, cfg)
    limiting = max(REGIONS, key=lambda r: (levels[r], -REGIONS.index(r)))
    level = levels[limiting]
    if level <= cfg.threshold:
        return None
    dose_cols = [f"dose_{r.value}" for r in REGIONS]
    dosing = doses.filter((pl.col("time_utc") <= t) & (pl.sum_horizontal(dose_cols) > 0))
    last = dosing["time_utc"].max()
    since = (t - last).total_seconds() / 3600.0 if isinstance(last, datetime) else math.inf
    severity: Severity
    evidence: tuple[str, ...]
    if run_intensity == "hard":
        severity = "alert" if level >= cfg.alert_level or since < cfg.same_day_hours else "warning"
        evidence = ("S1", "S2", "S3") if severity == "alert" else ("S2", "S3", "S11")
    else:
        severity, evidence = "info", ("S3",)
    return FatigueFlag(
        run_start_utc=t,
        severity=severity,
        level=level,
        limiting_region=limiting,
        levels=levels,
        threshold=cfg.threshold,
        hours_since_last_dose=since,
        ready_at_utc=legs_ready_at(doses, t, cfg),
        evidence=evidence,
    )
