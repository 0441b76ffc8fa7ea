"""Fixed polars schemas of what parsing produces, and the ``ParsedFile`` that carries them.

This is the contract between ``pipeline.fit`` (the only fitparse user), the store and the rule
modules. Every timestamp is a tz-aware UTC ``Datetime('us', 'UTC')``; every unit is SI-ish and
named in the column (``_s`` seconds, ``_m`` metres, ``_kg``, ``_kcal``, ``bpm``).
No I/O here.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

#: One row per session of the file (several in multisport and strength+run files).
SESSION_SCHEMA: dict[str, pl.DataType] = {
    "session_index": pl.Int32(),
    "sport": pl.String(),  # fitparse name, or the Garmin profile name for codes it lacks
    "sub_sport": pl.String(),
    "sport_code": pl.Int32(),  # raw FIT code, kept even when the name is known
    "sub_sport_code": pl.Int32(),
    "name": pl.String(),  # sport/session name the device wrote, if any ("Legs", "Run")
    "start_utc": UTC_TS,
    "end_utc": UTC_TS,  # start + elapsed
    "elapsed_s": pl.Float64(),
    "timer_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "avg_hr": pl.Int32(),
    "max_hr": pl.Int32(),
    "calories_kcal": pl.Int32(),
    "training_load_peak": pl.Float64(),  # Garmin EPOC-based load, when present
    "total_training_effect": pl.Float64(),
    "anaerobic_training_effect": pl.Float64(),
    "workout_rpe": pl.Float64(),  # CR-10 scale 0..10 (FIT stores 10x)
    "summary_source": pl.String(),  # 'session' = from the session message; 'records' = derived
}

LAP_SCHEMA: dict[str, pl.DataType] = {
    "session_index": pl.Int32(),
    "lap_index": pl.Int32(),
    "start_utc": UTC_TS,
    "end_utc": UTC_TS,
    "elapsed_s": pl.Float64(),
    "timer_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "avg_hr": pl.Int32(),
    "max_hr": pl.Int32(),
    "calories_kcal": pl.Int32(),
}

#: Heart-rate samples: from ``record`` messages, and from ``hr`` messages a strap buffered.
HR_SCHEMA: dict[str, pl.DataType] = {
    "session_index": pl.Int32(),
    "ts": UTC_TS,
    "bpm": pl.Int32(),
    "source": pl.String(),  # 'record' | 'hr'
}

#: Strength ``set`` messages (global message 225).
SET_SCHEMA: dict[str, pl.DataType] = {
    "session_index": pl.Int32(),
    "set_index": pl.Int32(),  # order in the file
    "set_type": pl.String(),  # 'active' | 'rest'
    "start_utc": UTC_TS,
    "duration_s": pl.Float64(),
    "repetitions": pl.Int32(),
    "weight_kg": pl.Float64(),
    "category": pl.String(),  # first known candidate, 'unknown' when all are 65534/absent
    "categories": pl.List(pl.String()),  # every candidate, mapped to names
    "category_codes": pl.List(pl.Int32()),  # raw candidate codes
    "category_subtype": pl.Int32(),  # subtype of the first candidate
    "exercise_name": pl.String(),  # e.g. squat/0 -> 'leg_press', when known
    "wkt_step_index": pl.Int32(),
}

#: Workout steps and exercise titles in the file: names a person or app gave the exercises.
STEP_SCHEMA: dict[str, pl.DataType] = {
    "step_index": pl.Int32(),
    "source": pl.String(),  # 'workout_step' | 'exercise_title' | 'workout'
    "name": pl.String(),
    "category": pl.String(),
    "exercise_name": pl.String(),
}


@dataclass(frozen=True)
class Note:
    """A warning or reason with a stable code and a sentence a person can act on."""

    code: str
    message: str


@dataclass(frozen=True)
class SessionProblem:
    """A problem of one session of a file that is otherwise kept.

    ``code`` is ``implausible_timestamp`` (the watch clock was wrong): the store keeps the session
    but does not put it on a day. The same code and message are in ``ParsedFile.warnings``.
    """

    session_index: int
    code: str
    message: str


#: ``file_id.type`` of the FIT files that carry plans (``DecodedPlanFile``), not activities.
PLAN_FILE_TYPES = ("workout", "schedules")


@dataclass(frozen=True)
class DecodedPlanFile:
    """One FIT workout (type ``workout``) or schedule (type ``schedules``) file, decoded.

    Each field holds the message dicts of ``fitparse``'s ``get_values()`` (its standard data
    processor: enum names, scaled values, naive UTC ``datetime``s, ``local_date_time`` as the
    wall clock): ``file_id`` (the first one), ``workout`` (the first one, workout files),
    ``workout_steps`` in file order and ``schedules`` (schedule files). ``name`` says where it
    came from (file name and hash; empty straight out of the parser, which knows no names).
    Plain values only, so it pickles across parser processes.
    """

    name: str
    file_id: Mapping[str, Any]
    workout: Mapping[str, Any] | None = None
    workout_steps: Sequence[Mapping[str, Any]] = ()
    schedules: Sequence[Mapping[str, Any]] = ()


def _tagged(value: Any) -> Any:
    """``value`` as JSON-able data; what JSON cannot say exactly is tagged ``{"$type": text}``."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, tuple):
        return {"$tuple": [_tagged(v) for v in value]}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _tagged(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    return value


_UNTAG = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$bytes": base64.b64decode,
    "$tuple": tuple,
    "$float": float,
}


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, text),) = obj.items()
        if key in _UNTAG:
            return _UNTAG[key](text)
    return obj


def plan_to_json(plan: DecodedPlanFile) -> str:
    """The messages of ``plan`` as JSON that ``plan_from_json`` reads back equal (datetimes,
    tuples and bytes exactly; floats by their shortest repr, which round-trips)."""
    return json.dumps(
        _tagged(
            {
                "file_id": plan.file_id,
                "workout": plan.workout,
                "workout_steps": list(plan.workout_steps),
                "schedules": list(plan.schedules),
            }
        ),
        sort_keys=True,
    )


def plan_from_json(name: str, text: str) -> DecodedPlanFile:
    """A ``DecodedPlanFile`` named ``name`` from ``plan_to_json``'s text."""
    data = json.loads(text, object_hook=_untag)
    return DecodedPlanFile(
        name=name,
        file_id=data["file_id"],
        workout=data["workout"],
        workout_steps=tuple(data["workout_steps"]),
        schedules=tuple(data["schedules"]),
    )


@dataclass
class FileInfo:
    """Identity of a FIT file, from its ``file_id`` message."""

    file_type: str | None = None
    manufacturer: str | None = None
    product: str | None = None
    serial_number: int | None = None
    time_created: datetime | None = None  # tz-aware UTC
    utc_offset_s: int | None = None  # local time minus UTC, from activity.local_timestamp


@dataclass
class ParsedFile:
    """Everything legday keeps from one FIT file, or why it could not.

    ``status`` is ``stored`` (all bytes decoded and verified), ``partial`` (some data stored but
    the file was truncated, had a bad CRC or undecodable bytes: see ``reason``) or
    ``quarantined`` (nothing usable; ``reason`` says why). Duplicates are decided by the store.
    """

    status: Literal["stored", "partial", "quarantined"]
    reason: Note | None = None
    warnings: list[Note] = field(default_factory=list)
    info: FileInfo = field(default_factory=FileInfo)
    sessions: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SESSION_SCHEMA))
    laps: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LAP_SCHEMA))
    hr: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HR_SCHEMA))
    sets: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SET_SCHEMA))
    steps: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STEP_SCHEMA))
    n_messages: int = 0
    session_problems: list[SessionProblem] = field(default_factory=list)
    #: The plan messages of a workout or schedules file (``PLAN_FILE_TYPES``); None otherwise.
    plan: DecodedPlanFile | None = None

    @property
    def is_activity(self) -> bool:
        return self.sessions.height > 0
