"""Decoded messages in, a ``ParsedFile``'s frames out: sessions, laps, HR, sets, steps. No I/O.

``build`` takes what ``decode.collect`` kept of a file, anchors its clock (``timebase``), makes
one frame per schema of ``schemas`` and gives every lap, HR sample and set the index of the
session it falls in (containing session, else the nearest; in a one-session file, that session).

HR samples: ``source='record'`` rows are the records with a heart rate above 0 (0 means no
reading); a record without a timestamp keeps its row with a null ``ts``. ``source='hr'`` rows are
strap-buffered ``hr`` messages expanded by ``hr.expand_hr`` (no gap filling).

A session dated before 1990, more than a day after ``now`` or with no readable time is kept but
listed in ``ParsedFile.session_problems`` (``implausible_timestamp``, with its session index) and
in the warnings, so the store does not put it on a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from pipeline.fit import fields as fv
from pipeline.fit import profile as prof
from pipeline.fit.decode import Collected
from pipeline.fit.hr import expand_hr
from pipeline.fit.schemas import (
    HR_SCHEMA,
    LAP_SCHEMA,
    SESSION_SCHEMA,
    SET_SCHEMA,
    STEP_SCHEMA,
    UTC_TS,
    Note,
    ParsedFile,
    SessionProblem,
)
from pipeline.fit.summary import file_info, session_columns
from pipeline.fit.timebase import Clock, anchor, to_datetime, to_utc

MIN_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
UNKNOWN_CATEGORY = 65534


def _assign(ts: pl.Series, starts: list[float], ends: list[float]) -> pl.Series:
    """Session index for each FIT-seconds timestamp: containing session, else the nearest."""
    if not starts:
        return pl.Series("session_index", [None] * len(ts), dtype=pl.Int32)
    if len(starts) == 1:
        return pl.Series("session_index", [0] * len(ts), dtype=pl.Int32)
    frame = pl.DataFrame({"t": ts.cast(pl.Float64)})
    dists = [
        pl.max_horizontal(pl.lit(s) - pl.col("t"), pl.col("t") - pl.lit(e), pl.lit(0.0))
        for s, e in zip(starts, ends, strict=True)
    ]
    out = frame.select(pl.concat_list(dists).list.arg_min().cast(pl.Int32).alias("session_index"))
    return out.to_series()


def _frame(cols: dict[str, Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame of exactly ``schema`` from column lists; timestamp columns hold FIT seconds."""
    series = []
    for key, dtype in schema.items():
        values = cols[key]
        if isinstance(values, pl.Series):
            series.append(values.alias(key).cast(dtype))
        elif dtype == UTC_TS:
            series.append(to_utc(values, key))
        else:
            series.append(pl.Series(key, values, dtype=dtype, strict=False))
    return pl.DataFrame(series)


def build(c: Collected, now: datetime | None) -> tuple[ParsedFile, Note | None]:
    """The file's frames and warnings (status ``stored``), or a quarantine and its fatal note.

    ``now`` (tz-aware UTC, or None to skip the check) flags sessions dated in the future.
    """
    warnings: list[Note] = []
    strap_ts, strap_bpm = expand_hr(c.hr_msgs)
    clock, had_relative, fatal = anchor(c, strap_ts, warnings)
    if fatal is not None:
        return ParsedFile(status="quarantined", reason=fatal, n_messages=c.n_messages), fatal
    info = file_info(c, clock, warnings)

    rec_t = [clock(t) for t in c.rec_ts] if had_relative else c.rec_ts
    s_cols, notes = session_columns(c, clock, rec_t)  # type: ignore[arg-type]
    warnings += notes
    starts = [s for s in s_cols["start_utc"]]
    ends = [e if e is not None else s for s, e in zip(starts, s_cols["end_utc"], strict=True)]
    valid = [i for i, s in enumerate(starts) if s is not None]
    v_starts = [starts[i] for i in valid]
    v_ends = [ends[i] if ends[i] is not None else starts[i] for i in valid]

    def assign(ts: list[float | None]) -> pl.Series:
        if len(starts) == 1:
            # One session: everything in the file is its own, timed or not (a sample without
            # a readable time must not be dropped from the only session it can belong to).
            return pl.Series("session_index", [0] * len(ts), dtype=pl.Int32)
        idx = _assign(pl.Series(ts, dtype=pl.Float64), v_starts, v_ends)
        if valid and len(valid) != len(starts):
            idx = idx.replace_strict(list(range(len(valid))), valid, return_dtype=pl.Int32)
        return idx

    sessions = _frame(s_cols, SESSION_SCHEMA)

    # Heart rate: records with a bpm (0 = no reading, dropped), then strap-buffered hr messages.
    # A record without a timestamp keeps its sample with a null ts so counts match the file.
    keep_all = [i for i, h in enumerate(c.rec_hr) if h is not None and h > 0]
    hr_t = [rec_t[i] for i in keep_all]
    hr_b = [c.rec_hr[i] for i in keep_all]
    n_rec = len(hr_t)
    strap_t = [clock(t) for t in strap_ts]
    strap_keep = [i for i, t in enumerate(strap_t) if t is not None]
    hr_t += [strap_t[i] for i in strap_keep]
    hr_b += [strap_bpm[i] for i in strap_keep]
    hr = _frame(
        {
            "session_index": assign(hr_t),
            "ts": hr_t,
            "bpm": hr_b,
            "source": ["record"] * n_rec + ["hr"] * len(strap_keep),
        },
        HR_SCHEMA,
    )

    laps = _laps(c, clock, assign)
    sets = _sets(c, clock, assign)
    steps = _steps(c)

    problems = _implausible(starts, ends, now)
    warnings += [Note(p.code, p.message) for p in problems]
    parsed = ParsedFile(
        status="stored",
        warnings=warnings,
        session_problems=problems,
        info=info,
        sessions=sessions,
        laps=laps,
        hr=hr,
        sets=sets,
        steps=steps,
        n_messages=c.n_messages,
    )
    return parsed, None


def _implausible(
    starts: list[float | None], ends: list[float | None], now: datetime | None
) -> list[SessionProblem]:
    """Sessions whose clock cannot be right: before 1990, after tomorrow, or unreadable."""
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    out = []
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        lo, hi = to_datetime(s), to_datetime(e)
        too_early = lo is not None and lo < MIN_PLAUSIBLE
        too_late = now is not None and hi is not None and hi > now + timedelta(days=1)
        if too_early or too_late or lo is None:
            when = lo.isoformat() if lo else "no readable time"
            message = (
                f"session_index={i} starts at {when}"
                + (", after the current time" if too_late else "")
                + (", before 1990" if too_early else "")
                + "; the watch clock was probably wrong. The session is kept but not put on "
                "a day: set the watch's clock and re-export it."
            )
            out.append(SessionProblem(i, "implausible_timestamp", message))
    return out


def _laps(
    c: Collected, clock: Clock, assign: Callable[[list[float | None]], pl.Series]
) -> pl.DataFrame:
    cols: dict[str, Any] = {k: [] for k in LAP_SCHEMA}
    for i, fs in enumerate(c.laps):
        elapsed = fv.num(fs, "lap", "total_elapsed_time")
        start = clock(fv.integer(fs, "lap", "start_time"))
        stamp = clock(fv.integer(fs, "lap", "timestamp"))
        if start is None and stamp is not None and elapsed is not None:
            start = stamp - elapsed
        cols["lap_index"].append(i)
        cols["start_utc"].append(start)
        cols["end_utc"].append(
            start + elapsed if start is not None and elapsed is not None else stamp
        )
        cols["elapsed_s"].append(elapsed)
        cols["timer_s"].append(fv.num(fs, "lap", "total_timer_time"))
        cols["distance_m"].append(fv.num(fs, "lap", "total_distance"))
        cols["avg_hr"].append(fv.integer(fs, "lap", "avg_heart_rate"))
        cols["max_hr"].append(fv.integer(fs, "lap", "max_heart_rate"))
        cols["calories_kcal"].append(fv.integer(fs, "lap", "total_calories"))
    cols["session_index"] = assign(cols["start_utc"])
    return _frame(cols, LAP_SCHEMA)


def _sets(
    c: Collected, clock: Clock, assign: Callable[[list[float | None]], pl.Series]
) -> pl.DataFrame:
    cols: dict[str, Any] = {k: [] for k in SET_SCHEMA}
    for i, fs in enumerate(c.sets):
        duration = fv.num(fs, "set", "duration")
        start = clock(fv.integer(fs, "set", "start_time"))
        stamp = clock(fv.integer(fs, "set", "timestamp"))
        if start is None and stamp is not None:
            start = stamp - (duration or 0.0)
        codes = fv.codes(fs, "set", "category")
        names = [prof.EXERCISE_CATEGORY.get(x, str(x)) for x in codes]
        subtypes = fv.codes(fs, "set", "category_subtype")
        first = next((j for j, x in enumerate(codes) if x != UNKNOWN_CATEGORY), None)
        category = names[first] if first is not None else "unknown"
        subtype = subtypes[first] if first is not None and first < len(subtypes) else None
        if subtype == UNKNOWN_CATEGORY:
            subtype = None
        set_type = fv.integer(fs, "set", "set_type")
        cols["set_index"].append(i)
        cols["set_type"].append(fv.enum_name(prof.SET_TYPE, set_type))
        cols["start_utc"].append(start)
        cols["duration_s"].append(duration)
        cols["repetitions"].append(fv.integer(fs, "set", "repetitions"))
        cols["weight_kg"].append(fv.num(fs, "set", "weight"))
        cols["category"].append(category)
        cols["categories"].append(names)
        cols["category_codes"].append(codes)
        cols["category_subtype"].append(subtype)
        cols["exercise_name"].append(fv.exercise(category if first is not None else None, subtype))
        cols["wkt_step_index"].append(fv.integer(fs, "set", "wkt_step_index"))
    cols["session_index"] = assign(cols["start_utc"])
    return _frame(cols, SET_SCHEMA)


def _steps(c: Collected) -> pl.DataFrame:
    cols: dict[str, list[Any]] = {k: [] for k in STEP_SCHEMA}

    def add(i: int, source: str, name: str | None, cat: int | None, ex: int | None) -> None:
        category = None if cat is None else prof.EXERCISE_CATEGORY.get(cat, str(cat))
        cols["step_index"].append(i)
        cols["source"].append(source)
        cols["name"].append(name)
        cols["category"].append(category)
        cols["exercise_name"].append(fv.exercise(category, ex))

    for i, fs in enumerate(c.workouts):
        add(i, "workout", fv.text(fs, "workout", "wkt_name"), None, None)
    for i, fs in enumerate(c.steps):
        add(
            i,
            "workout_step",
            fv.text(fs, "workout_step", "wkt_step_name"),
            fv.integer(fs, "workout_step", "exercise_category"),
            fv.integer(fs, "workout_step", "exercise_name"),
        )
    for i, fs in enumerate(c.titles):
        add(
            i,
            "exercise_title",
            fv.text(fs, "exercise_title", "wkt_step_name"),
            fv.integer(fs, "exercise_title", "exercise_category"),
            fv.integer(fs, "exercise_title", "exercise_name"),
        )
    return _frame(cols, STEP_SCHEMA)


# --------------------------------------------------------------------------------------------
# Public entry point
