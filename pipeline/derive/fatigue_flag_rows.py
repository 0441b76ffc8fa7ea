"""Run flags from the leg fatigue curve as ``recovery_flags`` rows (``recovery.model = "fatigue"``,
issue 14). Pure: frames in, a ``pipeline.derive.recovery.FLAG_SCHEMA`` frame out, so refresh can
take its flags from here instead of ``recovery.recovery_flags`` and everything downstream (the
store relation, the report) stays as it is.

Per run: ``fatigue_flags.fatigue_flag`` at the run's start (docs/fatigue.md section 4). The row
names as its leg session the one whose sets leave the most fatigue in the limiting region at the
run's start; ``rule`` is ``fatigue_<severity>``; ``threshold_hours`` is null (no window: a
level decides); ``intense_ok_from_utc`` is the instant the legs are ready given the sets before
the run.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, tzinfo
from typing import Any

import polars as pl

from pipeline.derive.fatigue import FatigueSettings
from pipeline.derive.fatigue_flags import fatigue_flag
from pipeline.derive.fatigue_regions import REGIONS, Region
from pipeline.derive.recovery import FLAG_SCHEMA, format_local

TS = pl.Datetime("us", "UTC")
_REGION_WORDS = {
    "quadriceps": "quadriceps",
    "posterior_chain": "posterior chain",
    "calves": "calves",
}


def _flag_id(run_id: str, leg_id: str) -> str:
    # Same shape as the rules' ids, salted so the two models never share an id.
    return "flag-" + hashlib.sha256(f"fatigue|{run_id}|{leg_id}".encode()).hexdigest()[:12]


def _name(row: dict[str, Any], fallback: str) -> str:
    name = row.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else fallback


def _main_session(
    dosing: pl.DataFrame, start: datetime, region: str, cfg: FatigueSettings
) -> tuple[str, datetime]:
    """The session whose sets leave the most fatigue in ``region`` at ``start`` (a heavy leg day
    two days before outweighs a few hip raises the evening before), and its last set's time."""
    age_h = (pl.lit(start, dtype=TS) - pl.col("time_utc")).dt.total_microseconds() / 3.6e9
    tau = cfg.tau(Region(region))
    ranked = (
        dosing.filter(pl.col("time_utc") <= start)
        .with_columns((pl.col(f"dose_{region}") * (-age_h / tau).exp()).alias("left"))
        .group_by("activity_id")
        .agg(pl.col("left").sum(), pl.col("time_utc").max())
        .sort(["left", "time_utc"], descending=True)
    )
    top = ranked.row(0, named=True)  # a flag implies a dosing set before the run
    return str(top["activity_id"]), top["time_utc"]


def fatigue_flag_rows(
    doses: pl.DataFrame,
    sessions: pl.DataFrame,
    settings: FatigueSettings | None = None,
    *,
    tz: tzinfo = UTC,
) -> pl.DataFrame:
    """Flag the runs of ``sessions`` (``activity_id, start_utc, end_utc, kind``, optional
    ``name``, ``intensity``) by the fatigue the ``doses`` (``fatigue.DOSE_SCHEMA``) leave at
    each run's start. Returns ``FLAG_SCHEMA`` rows sorted by run start."""
    cfg = settings or FatigueSettings()
    by_id = {str(r["activity_id"]): r for r in sessions.to_dicts()}
    dose_cols = [f"dose_{r.value}" for r in REGIONS]
    dosing = doses.filter(pl.sum_horizontal(dose_cols) > 0).sort("time_utc")
    out: list[dict[str, Any]] = []
    runs = sessions.filter((pl.col("kind") == "run") & pl.col("start_utc").is_not_null())
    for run in runs.sort("start_utc").to_dicts():
        start: datetime = run["start_utc"]
        intensity = run.get("intensity")
        intensity = intensity if intensity in ("easy", "moderate", "hard") else "unknown"
        flag = fatigue_flag(doses, start, intensity, cfg)
        if flag is None:
            continue
        leg_id, last_set = _main_session(dosing, start, flag.limiting_region.value, cfg)
        leg = by_id.get(leg_id, {})
        leg_end = leg.get("end_utc") or leg.get("start_utc") or last_set
        leg_end = min(leg_end, start)  # a run started before its leg session's recorded end
        of_leg = dosing.filter(pl.col("activity_id") == leg_id)
        hours = (start - leg_end).total_seconds() / 3600.0
        region = _REGION_WORDS[flag.limiting_region.value]
        ready = flag.ready_at_utc
        message = (
            f"{_name(run, 'Run')} ({intensity}) started {hours:.1f} h after the end of "
            f"{_name(leg, 'a leg session')} — leg fatigue {flag.level:.2f} ({region}) is above "
            f"the ready level {flag.threshold:.2f}"
            + (
                f"; legs are ready for intense running from {format_local(ready, tz)}."
                if ready
                else "."
            )
        )
        out.append(
            {
                "flag_id": _flag_id(str(run["activity_id"]), leg_id),
                "run_activity_id": str(run["activity_id"]),
                "leg_activity_id": leg_id,
                "run_start_utc": start,
                "leg_end_utc": leg_end,
                "hours_between": hours,
                "severity": flag.severity,
                "rule": f"fatigue_{flag.severity}",
                "run_intensity": intensity,
                "leg_heavy": bool(of_leg["heavy"].any()) if "heavy" in of_leg.columns else None,
                "leg_unaccustomed": (
                    bool(of_leg["unaccustomed"].any()) if "unaccustomed" in of_leg.columns else None
                ),
                "message": message,
                "threshold_hours": None,
                "evidence": ", ".join(flag.evidence),
                "intense_ok_from_utc": ready,
            }
        )
    return pl.DataFrame(out, schema=FLAG_SCHEMA).sort(["run_start_utc", "flag_id"])
