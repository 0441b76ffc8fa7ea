"""The leg fatigue curve and the evidence of the athlete's runs, wired to the store (issue 14).

Composition only: the store's frames (``pipeline.store.fatigue_sql``) go through the pure
functions of ``fatigue``, ``fatigue_flag_rows``, ``evidence_measures`` and ``evidence``, and the
results go back to the store. I/O on the store passed in; ``now`` is passed in (no clock reads).

* ``refresh_fatigue``: doses of every strength set, the hourly curve of the last
  ``recovery.fatigue.curve_days`` days (and ahead up to the ready instant, at most 7 days), and
  "legs ready"; stored in ``fatigue_doses``, ``fatigue_curve``, ``legs_ready``.
* ``fatigue_flags``: ``recovery_flags`` rows under ``recovery.model = "fatigue"``.
* ``evidence_for``: what the athlete's runs say, as an ``EvidenceReport`` (nothing stored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from pipeline.config import AthleteSettings, Settings
from pipeline.derive import fatigue as fg
from pipeline.derive.evidence import EvidenceReport, EvidenceSettings, evidence
from pipeline.derive.evidence_measures import run_measures, usual_easy_speed
from pipeline.derive.fatigue_flag_rows import fatigue_flag_rows
from pipeline.derive.fatigue_regions import REGIONS, Region
from pipeline.store import fatigue_sql as fq
from pipeline.store.db import Store

#: How far ahead the stored curve goes at most (the projection with no further sets).
FORECAST = timedelta(days=7)
STEP = timedelta(hours=1)
#: Runs whose heart-rate samples are read at once by ``evidence_for``.
EVIDENCE_CHUNK = 50


@dataclass(frozen=True)
class LegsReady:
    """The legs at ``as_of_utc``: each region's level and when all are at or below threshold."""

    athlete_id: str
    as_of_utc: datetime
    ready_at_utc: datetime | None  # None: ready already
    limiting_region: Region | None  # the region ready last; None when ready
    levels: dict[Region, float]
    threshold: float
    last_dose_utc: datetime | None
    curve_points: int
    doses: int

    @property
    def ready(self) -> bool:
        return self.ready_at_utc is None


def fatigue_settings(athlete: AthleteSettings) -> fg.FatigueSettings:
    """The model's constants with the athlete's ``[recovery.fatigue]`` overrides."""
    cfg = athlete.recovery.fatigue
    given = {
        k: v
        for k, v in cfg.model_dump().items()
        if v is not None and k in fg.FatigueSettings.__dataclass_fields__
    }
    unaccustomed = athlete.classification.unaccustomed_days
    default = fg.FatigueSettings()
    # The alert level is the reference session's level at 24 h: it moves with the quads' tau,
    # and never below the threshold.
    tau_q = given.get("tau_quadriceps_h", default.tau_quadriceps_h)
    threshold = given.get("threshold", default.threshold)
    given["alert_level"] = max(math.exp(-24.0 / tau_q), threshold)
    return fg.FatigueSettings(unaccustomed_days=unaccustomed, **given)


def compute_doses(store: Store, athlete_id: str, cfg: fg.FatigueSettings) -> pl.DataFrame:
    """Every strength set's dose, from the whole history (the e1RM is a running maximum)."""
    return fg.set_doses(
        fq.strength_sets(store, athlete_id),
        fq.strength_sessions(store, athlete_id),
        cfg,
        history_start=fq.history_start(store, athlete_id),
    )


def _hour_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def refresh_fatigue(store: Store, settings: Settings, athlete_id: str, now: datetime) -> LegsReady:
    """Recompute and store the athlete's doses, curve and legs-ready row as of ``now``."""
    now = fg.utc_instant(now, "now")
    athlete = settings.athlete(athlete_id)
    cfg = fatigue_settings(athlete)
    doses = compute_doses(store, athlete_id, cfg)
    past = doses.filter(pl.col("time_utc") <= now)
    ready_at, limiting, levels = _ready(past, now, cfg)
    start = _hour_floor(now - timedelta(days=athlete.recovery.fatigue.curve_days))
    end = _hour_floor(now) + STEP
    if ready_at is not None:
        end = max(end, min(_hour_floor(ready_at) + STEP, _hour_floor(now) + FORECAST))
    # Sets after ``now`` (a clock ahead in a file) are left out of the projection too.
    curve = fg.fatigue_curve(past, start, end, STEP, cfg)
    dosing = past.filter(pl.sum_horizontal([f"dose_{r.value}" for r in REGIONS]) > 0)
    last = dosing["time_utc"].max() if dosing.height else None
    last_dose = last if isinstance(last, datetime) else None
    fq.save_fatigue(
        store,
        athlete_id,
        doses=doses,
        curve=curve,
        ready={
            "as_of_utc": now,
            "ready_at_utc": ready_at,
            "limiting_region": limiting.value if limiting else None,
            **{r.value: levels[r] for r in REGIONS},
            "threshold": cfg.threshold,
            "last_dose_utc": last_dose,
        },
        now=now,
    )
    return LegsReady(
        athlete_id=athlete_id,
        as_of_utc=now,
        ready_at_utc=ready_at,
        limiting_region=limiting,
        levels=levels,
        threshold=cfg.threshold,
        last_dose_utc=last_dose,
        curve_points=curve.height,
        doses=doses.height,
    )


def _ready(
    past: pl.DataFrame, at: datetime, cfg: fg.FatigueSettings
) -> tuple[datetime | None, Region | None, dict[Region, float]]:
    """The ready instant, the region ready last and each region's level at ``at``."""
    ready_at = fg.legs_ready_at(past, at, cfg)
    per_region = fg.region_ready_at(past, at, cfg)
    pending = {r: t for r, t in per_region.items() if t is not None}
    # The region ready last; on a tie the first in REGIONS order (quadriceps first).
    limiting = max(pending, key=lambda r: (pending[r], -REGIONS.index(r))) if pending else None
    return ready_at, limiting, fg.fatigue_at(past, at, cfg)


def legs_at(
    store: Store, settings: Settings, athlete_id: str, at: datetime, since: datetime
) -> tuple[dict[str, Any] | None, pl.DataFrame]:
    """The legs as of ``at`` from the stored doses, nothing written (a report of a past day):
    a row shaped like ``fatigue_sql.latest_legs_ready``'s and the hourly curve over
    ``[since, at]``. ``(None, empty curve)`` when refresh has stored no doses yet."""
    at = fg.utc_instant(at, "at")
    cfg = fatigue_settings(settings.athlete(athlete_id))
    doses = fq.fatigue_doses(store, athlete_id)
    if doses.height == 0:
        return None, fg.fatigue_curve(doses, _hour_floor(since), _hour_floor(at), STEP, cfg)
    past = doses.filter(pl.col("time_utc") <= at)
    ready_at, limiting, levels = _ready(past, at, cfg)
    row: dict[str, Any] = {
        "as_of_utc": at,
        "ready_at_utc": ready_at,
        "limiting_region": limiting.value if limiting else None,
        **{r.value: levels[r] for r in REGIONS},
        "threshold": cfg.threshold,
    }
    return row, fg.fatigue_curve(past, _hour_floor(since), _hour_floor(at), STEP, cfg)


def fatigue_flags(
    store: Store, settings: Settings, athlete_id: str, sessions: pl.DataFrame
) -> pl.DataFrame:
    """``recovery_flags`` rows (``recovery.FLAG_SCHEMA``) of the runs in ``sessions`` (refresh's
    ``session_frame``) under ``recovery.model = "fatigue"``. Doses come from the whole history,
    so a lookback on ``sessions`` changes no level."""
    athlete = settings.athlete(athlete_id)
    cfg = fatigue_settings(athlete)
    doses = compute_doses(store, athlete_id, cfg)
    return fatigue_flag_rows(doses, sessions, cfg, tz=athlete.tz)


def evidence_for(
    store: Store,
    settings: Settings,
    athlete_id: str,
    evidence_settings: EvidenceSettings | None = None,
) -> EvidenceReport:
    """What the athlete's runs say about leg days: every run with laps, bucketed by hours since
    the end of the last leg session (``pipeline.derive.evidence``)."""
    settings.athlete(athlete_id)  # an unknown athlete is a ConfigError, not an empty report
    runs = fq.runs(store, athlete_id)
    laps = fq.run_laps(store, athlete_id)
    easy_ids = {str(a) for a in runs.filter(pl.col("intensity") == "easy")["activity_id"]}
    # The usual easy pace needs every run's laps, not their heart-rate samples; the samples
    # (for cardiac drift) are read a chunk of runs at a time, so memory follows the chunk,
    # not years of 1 Hz heart rate.
    easy = usual_easy_speed(run_measures(laps), easy_ids)
    ids = sorted({str(a) for a in laps["activity_id"]})
    parts = []
    for i in range(0, len(ids), EVIDENCE_CHUNK):
        chunk = ids[i : i + EVIDENCE_CHUNK]
        part_laps = laps.filter(pl.col("activity_id").is_in(chunk))
        samples = fq.run_hr_samples(store, athlete_id, chunk)
        parts.append(run_measures(part_laps, samples, easy_speed_m_s=easy))
    measures = pl.concat(parts) if parts else run_measures(laps)
    return evidence(
        runs.select("activity_id", "start_utc"),
        measures,
        fq.leg_sessions(store, athlete_id),
        evidence_settings,
    )
