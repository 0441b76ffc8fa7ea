"""What a file is and its session summaries: ``file_id``/``activity`` and ``session`` messages. No I/O.

``file_info`` reads the file's identity and the watch's UTC offset (kept only when it is a real
time-zone offset). ``session_columns`` makes one row per ``session`` message, naming each session
from ``sport_profile_name`` or a matching ``sport`` message; a file with records but no session
message (the device stopped, the file was cut) gets one session derived from its records, with
the ``no_session_message`` warning.
"""

from __future__ import annotations

from typing import Any

from pipeline.fit import fields as fv
from pipeline.fit import profile as prof
from pipeline.fit.decode import Collected
from pipeline.fit.schemas import SESSION_SCHEMA, FileInfo, Note
from pipeline.fit.timebase import Clock, to_datetime

MAX_UTC_OFFSET_S = 14 * 3600


def file_info(c: Collected, clock: Clock, warnings: list[Note]) -> FileInfo:
    """The file's identity; a bad UTC offset is left out with a ``bad_utc_offset`` warning."""
    info = FileInfo()
    fs = c.file_id
    if fs is not None:
        info.file_type = fv.enum_name(prof.FILE, fv.integer(fs, "file_id", "type"))
        manu = fv.integer(fs, "file_id", "manufacturer")
        info.manufacturer = fv.enum_name(prof.MANUFACTURER, manu)
        product = fv.integer(fs, "file_id", "product")
        if product is not None:
            garminish = info.manufacturer in {"garmin", "dynastream", "dynastream_oem", "tacx"}
            info.product = (
                prof.GARMIN_PRODUCT.get(product, str(product)) if garminish else str(product)
            )
        info.serial_number = fv.integer(fs, "file_id", "serial_number")
        info.time_created = to_datetime(clock(fv.integer(fs, "file_id", "time_created")))
    if c.activity is not None:
        ts = clock(fv.integer(c.activity, "activity", "timestamp"))
        local = fv.integer(c.activity, "activity", "local_timestamp")
        if ts is not None and local is not None:
            offset = round(local - ts)
            if abs(offset) <= MAX_UTC_OFFSET_S and offset % 900 == 0:
                info.utc_offset_s = offset
            else:
                warnings.append(
                    Note(
                        "bad_utc_offset",
                        f"The activity's local time differs from UTC by {offset} s, which is not "
                        "a real time-zone offset (at most 14 h, in 15-minute steps); it was "
                        "ignored and local days use the athlete's configured time zone.",
                    )
                )
    return info


def _sport_names(code: int | None, sub: int | None, raw_sport: Any, raw_sub: Any) -> list[Any]:
    sport = raw_sport if isinstance(raw_sport, str) else fv.enum_name(prof.SPORT, code)
    sub_sport = raw_sub if isinstance(raw_sub, str) else fv.enum_name(prof.SUB_SPORT, sub)
    return [sport, sub_sport]


def session_columns(
    c: Collected, clock: Clock, rec_t: list[float | None]
) -> tuple[dict[str, list[Any]], list[Note]]:
    cols: dict[str, list[Any]] = {k: [] for k in SESSION_SCHEMA}
    notes: list[Note] = []
    sport_msgs = [
        (
            fv.integer(s, "sport", "sport"),
            fv.integer(s, "sport", "sub_sport"),
            fv.text(s, "sport", "name"),
        )
        for s in c.sports
    ]
    used: set[int] = set()
    for i, fs in enumerate(c.sessions):
        code, sub = fv.integer(fs, "session", "sport"), fv.integer(fs, "session", "sub_sport")
        elapsed = fv.num(fs, "session", "total_elapsed_time")
        start = clock(fv.integer(fs, "session", "start_time"))
        stamp = clock(fv.integer(fs, "session", "timestamp"))
        if start is None and stamp is not None and elapsed is not None:
            start = stamp - elapsed
        end = start + elapsed if start is not None and elapsed is not None else stamp
        name = fv.text(fs, "session", "sport_profile_name")
        if name is None:
            for j, (s_code, s_sub, s_name) in enumerate(sport_msgs):
                if j not in used and s_code == code and (s_sub == sub or s_sub is None):
                    used.add(j)
                    name = s_name
                    break
        rpe = fv.num(fs, "session", "workout_rpe")
        sport, sub_sport = _sport_names(code, sub, code, sub)
        _append_session(
            cols,
            i,
            sport,
            sub_sport,
            code,
            sub,
            name,
            start,
            end,
            elapsed,
            fv.num(fs, "session", "total_timer_time"),
            fv.num(fs, "session", "total_distance"),
            fv.integer(fs, "session", "avg_heart_rate"),
            fv.integer(fs, "session", "max_heart_rate"),
            fv.integer(fs, "session", "total_calories"),
            fv.num(fs, "session", "training_load_peak"),
            fv.num(fs, "session", "total_training_effect"),
            fv.num(fs, "session", "total_anaerobic_training_effect"),
            rpe / 10.0 if rpe is not None else None,  # devices write RPE x10 (10..100)
            "session",
        )
    if not c.sessions:
        times = [t for t in rec_t if t is not None]
        if c.rec_ts:
            hrs = [h for h in c.rec_hr if h is not None]
            dists = [d for d in c.rec_dist if d is not None]
            code, sub, name = sport_msgs[0] if sport_msgs else (0, None, None)
            sport, sub_sport = _sport_names(code, sub, None, None)
            start, end = (min(times), max(times)) if times else (None, None)
            _append_session(
                cols,
                0,
                sport or "generic",
                sub_sport,
                code,
                sub,
                name,
                start,
                end,
                end - start if start is not None and end is not None else None,
                None,
                max(dists) if dists else None,
                round(sum(hrs) / len(hrs)) if hrs else None,
                max(hrs) if hrs else None,
                None,
                None,
                None,
                None,
                None,
                "records",
            )
            notes.append(
                Note(
                    "no_session_message",
                    "The file has records but no session summary (the device stopped or the "
                    "file was cut); one session was derived from the records.",
                )
            )
    return cols, notes


def _append_session(cols: dict[str, list[Any]], *values: Any) -> None:
    for key, value in zip(SESSION_SCHEMA, values, strict=True):
        cols[key].append(value)
