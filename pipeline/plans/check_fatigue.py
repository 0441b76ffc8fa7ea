"""The "coming up" check under ``recovery.model = "fatigue"``: what the curve and the rules each judge.

Pure, no I/O. Under the fatigue model the report flags a run by the leg fatigue its start finds
(``pipeline.derive.fatigue_flag_rows``, from the doses of the sets done before it), not by the
rule windows. A planned run is judged the same way against what was done: the same function, on
the same doses, at the planned start. A planned leg session has no sets yet, so no dose: it is
judged by the window rules (``pipeline.derive.recovery``), as under the windows model, with its
heavy or unaccustomed extension decided against the whole history (``legs_state``). The stronger
of the two findings counts (``check._Checker``).

So the rules here see only the planned leg sessions: completed leg and strength sessions are the
curve's (their sets are its doses), and no completed session is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import polars as pl

from pipeline.config import RecoverySettings
from pipeline.derive.fatigue import FatigueSettings
from pipeline.derive.fatigue_flag_rows import fatigue_flag_rows
from pipeline.derive.possible_legs import UnknownStrength
from pipeline.derive.recovery import legs_state


@dataclass(frozen=True)
class FatigueInput:
    """The leg fatigue model's inputs for the check: every completed set's dose
    (``fatigue.DOSE_SCHEMA``, ``fatigue_service.compute_doses``) and the athlete's constants."""

    doses: pl.DataFrame
    settings: FatigueSettings


def planned_legs_for_rules(
    completed: pl.DataFrame,
    legs: pl.DataFrame,
    settings: RecoverySettings,
    unaccustomed_days: int,
) -> tuple[pl.DataFrame, RecoverySettings, int]:
    """The frame, settings and unaccustomed span the rules run with under the fatigue model.

    The frame holds the planned leg sessions only, each ``heavy`` when it is heavy or
    unaccustomed against the completed and planned leg sessions before it (the rules' own test,
    through ``legs_state``); the unaccustomed span is then 0 (already applied) and strength of
    unknown region is left to the curve (``not_legs``).
    """
    rows = []
    for row in legs.sort("end_utc").to_dicts():
        upto = pl.concat([completed, legs.filter(pl.col("end_utc") <= row["end_utc"])])
        state = legs_state(upto, row["end_utc"], settings, unaccustomed_days)
        if state["last_leg_activity_id"] == row["activity_id"] and state["unaccustomed"]:
            row = {**row, "heavy": True}
        rows.append(row)
    frame = pl.DataFrame(rows, schema=legs.schema)
    rules = settings.model_copy(update={"unknown_strength": UnknownStrength.NOT_LEGS.value})
    return frame, rules, 0


def curve_flags(
    fatigue: FatigueInput, completed: pl.DataFrame, runs: pl.DataFrame, tz: tzinfo
) -> pl.DataFrame:
    """The fatigue flags of the planned ``runs`` (``recovery.FLAG_SCHEMA`` rows), as the report's.

    ``threshold_hours`` (null in the curve's rows: a level decides, not a window) is filled with
    the hours from the leg session's end to the ready instant, the window the curve gave.
    """
    sessions = pl.concat([completed.filter(pl.col("kind") != "run"), runs])
    flags = fatigue_flag_rows(fatigue.doses, sessions, fatigue.settings, tz=tz)
    window = (pl.col("intense_ok_from_utc") - pl.col("leg_end_utc")).dt.total_microseconds() / 3.6e9
    return flags.with_columns(pl.coalesce("threshold_hours", window).alias("threshold_hours"))
