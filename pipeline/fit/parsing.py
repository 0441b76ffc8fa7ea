"""FIT bytes in, a ``ParsedFile`` out: the only module that imports fitparse.

``parse_fit`` never raises for bad input. Every byte string ends as ``stored``, ``partial`` or
``quarantined`` with a stable reason code (``Note.code``):

=================================  ==============  ==========================================
code                               status          when
=================================  ==============  ==========================================
``empty``                          quarantined     zero bytes
``not_fit``                        quarantined     the first 12 bytes are not a FIT header
``no_data``                        quarantined     a sound header but no decodable message
``truncated``                      partial / q.    data ends before the declared length, or
                                                   fitparse stops mid-file (EOF, undefined
                                                   local message); partial keeps the prefix
``decode_error``                   partial / q.    fitparse raised anything else on the bytes
``relative_timestamps_unanchored`` quarantined     device-relative times with no anchor
``trailing_bytes``                 partial         bytes after the last chunk that are not FIT
``crc_mismatch``                   partial         a chunk's CRC is wrong; data kept
=================================  ==============  ==========================================

Warnings (``ParsedFile.warnings``): ``zero_padding`` (trailing zeros, file stored),
``bad_utc_offset``, ``relative_timestamps`` (converted; says how they were anchored),
``implausible_timestamp`` (one per affected session, the message names ``session_index=<i>``;
the file is kept but the store/report must not put that session on a day),
``no_session_message`` (summary derived from records), plus the codes above when a file has
several problems (the most serious is the ``reason``).

HR samples: ``source='record'`` rows are the records with a heart rate above 0 (0 means no
reading); a record without a timestamp keeps its row with a null ``ts``. ``source='hr'`` rows
are strap-buffered ``hr`` messages, expanded like the Garmin SDK (no gap filling). Relative
(power-on) times are converted with ``timestamp_correlation``, else with
``activity.local_timestamp`` (local time taken as UTC, with a warning); with neither, the file is
quarantined, since a session that cannot be put on a day would mislead the recovery report.

Design for speed: CRCs are checked here once, table-driven two bytes at a
time, and fitparse runs with ``check_crc=False`` and a data processor whose hooks are the builtin
``id`` (no unit conversion, no datetime objects); values are read by field number, timestamps
stay FIT-epoch integers until one vectorised conversion per column.
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fitparse
import polars as pl
from fitparse.records import FieldData, FieldDefinition
from fitparse.utils import FitCRCError, FitEOFError, FitHeaderError, FitParseError

from pipeline.fit import profile as prof
from pipeline.fit.schemas import (
    HR_SCHEMA,
    LAP_SCHEMA,
    SESSION_SCHEMA,
    SET_SCHEMA,
    STEP_SCHEMA,
    UTC_TS,
    FileInfo,
    Note,
    ParsedFile,
)

__all__ = [
    "PARSER_VERSION",
    "fit_declared_length",
    "fit_is_complete",
    "parse_file",
    "parse_fit",
    "read_file",
]

#: Bump whenever the frames or notes parse_fit returns for the same bytes change.
PARSER_VERSION = "1.1.0"

FIT_EPOCH_S = 631065600  # 1989-12-31T00:00:00Z as a Unix timestamp
RELATIVE_LIMIT = 0x10000000  # FIT date_time values below this are seconds since power-on
MIN_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
MAX_UTC_OFFSET_S = 14 * 3600
UNKNOWN_CATEGORY = 65534
_HEADER = struct.Struct("<BBHI4s")

F = prof.FIELDS
M = prof.MESG_NUM


# --------------------------------------------------------------------------------------------
# Header, chain and CRC


def fit_declared_length(head: bytes) -> int | None:
    """Total length the first FIT chunk declares (header + data + CRC), or None if no header."""
    if len(head) < 12:
        return None
    header_size, _, _, data_size, magic = _HEADER.unpack_from(head, 0)
    if magic != b".FIT" or header_size < 12:
        return None
    return int(header_size + data_size + 2)


@dataclass
class _Chain:
    """Where the chunks of a (possibly chained) FIT byte string start and end."""

    chunks: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of whole chunks
    tail: str = "none"  # none | zeros | garbage | truncated
    tail_start: int = 0


def _walk(data: bytes) -> _Chain:
    chain = _Chain()
    pos, n = 0, len(data)
    while pos < n:
        declared = fit_declared_length(data[pos : pos + 12])
        if declared is None:
            rest = data[pos:]
            chain.tail = "zeros" if rest.count(0) == len(rest) else "garbage"
            chain.tail_start = pos
            return chain
        if pos + declared > n:
            chain.tail, chain.tail_start = "truncated", pos
            return chain
        chain.chunks.append((pos, pos + declared))
        pos += declared  # declared >= 14, so the walk is linear in the input size
    chain.tail_start = pos
    return chain


def fit_is_complete(data: bytes) -> bool:
    """True when ``data`` is one or more whole FIT chunks and ends exactly at a chunk's end.

    A file still being copied (or cut short) gives False; so do trailing bytes after the last
    chunk, so a watcher should also give up waiting after the size has been stable for a while.
    """
    chain = _walk(data)
    return bool(chain.chunks) and chain.tail == "none"


def _crc_tables() -> tuple[list[int], list[int]]:
    byte_table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        byte_table.append(crc)
    # CRC-16/ARC is reflected and 16 bits wide, so a little-endian 16-bit word folds in at once.
    word_table = []
    for w in range(65536):
        crc = byte_table[w & 0xFF] ^ (w >> 8)
        crc = (crc >> 8) ^ byte_table[crc & 0xFF]
        word_table.append(crc)
    return byte_table, word_table


_CRC_BYTE, _CRC_WORD = _crc_tables()


def fit_crc(data: bytes | memoryview, crc: int = 0) -> int:
    """The FIT CRC-16 (CRC-16/ARC) of ``data``, continuing from ``crc``."""
    mv = memoryview(data)
    even = len(mv) & ~1
    words = array("H")
    words.frombytes(mv[:even])
    if sys.byteorder == "big":
        words.byteswap()
    table = _CRC_WORD
    for w in words:
        crc = table[crc ^ w]
    if even != len(mv):
        crc = (crc >> 8) ^ _CRC_BYTE[(crc ^ mv[-1]) & 0xFF]
    return crc


# --------------------------------------------------------------------------------------------
# fitparse adapter


class _RawProcessor:
    """A fitparse data processor that does nothing, cheaply: raw ints stay raw ints."""

    run_type_processor = staticmethod(id)
    run_field_processor = staticmethod(id)
    run_unit_processor = staticmethod(id)
    run_message_processor = staticmethod(id)


_PROCESSOR = _RawProcessor()


def _field_data_init(
    self: Any,
    field_def: Any = None,
    field: Any = None,
    parent_field: Any = None,
    value: Any = None,
    raw_value: Any = None,
    units: Any = None,
) -> None:
    # fitparse 1.2.0 builds one FieldData per field of every message through a generic
    # zip_longest/setattr loop: a quarter of all parse time. Same slots, same result
    # (units default to the field's), assigned directly. fitparse calls it with keywords only.
    self.field_def = field_def
    self.field = field
    self.parent_field = parent_field
    self.value = value
    self.raw_value = raw_value
    self.units = units if units or not field else field.units


FieldData.__init__ = _field_data_init

# (value, from_component): components already carry their scale (fitparse applies it).
_Fields = dict[int, tuple[Any, bool]]


def _fields(msg: Any) -> _Fields:
    out: _Fields = {}
    comps: _Fields = {}
    for fd in msg.fields:
        fdef = fd.field_def
        if fdef is None:
            comps.setdefault(fd.field.def_num, (fd.raw_value, True))
        elif fdef.__class__ is FieldDefinition:  # developer fields reuse small numbers
            out[fdef.def_num] = (fd.raw_value, False)
    for k, v in comps.items():
        if out.get(k, (None,))[0] is None:
            out[k] = v
    return out


def _num(fs: _Fields, mesg: str, name: str) -> float | None:
    num, scale = F[mesg][name]
    got = fs.get(num)
    if got is None:
        return None
    value, comp = got
    if isinstance(value, tuple):
        value = next((v for v in value if v is not None), None)
    if value is None or isinstance(value, (str, bytes)):
        return None
    return float(value) if comp or scale == 1 else value / scale


def _int(fs: _Fields, mesg: str, name: str) -> int | None:
    got = fs.get(F[mesg][name][0])
    if got is None:
        return None
    value = got[0]
    if isinstance(value, tuple):
        value = next((v for v in value if v is not None), None)
    return value if isinstance(value, int) else None


def _str(fs: _Fields, mesg: str, name: str) -> str | None:
    got = fs.get(F[mesg][name][0])
    if got is None:
        return None
    value = got[0]
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(value, str):
        value = value.strip("\0 ").strip()
        return value or None
    return None


def _codes(fs: _Fields, mesg: str, name: str) -> list[int]:
    got = fs.get(F[mesg][name][0])
    if got is None or got[0] is None:
        return []
    value = got[0]
    seq = value if isinstance(value, tuple) else (value,)
    return [v for v in seq if isinstance(v, int)]


def _name(table: dict[int, str], code: int | None) -> str | None:
    if code is None:
        return None
    return table.get(code, str(code))


def _exercise(category: str | None, subtype: int | None) -> str | None:
    if category is None or subtype is None:
        return None
    return prof.EXERCISE_NAMES.get(category, {}).get(subtype)


# --------------------------------------------------------------------------------------------
# Collection: one pass over fitparse's messages into plain lists


@dataclass
class _Collected:
    n_messages: int = 0
    file_id: _Fields | None = None
    activity: _Fields | None = None
    correlation: _Fields | None = None
    sports: list[_Fields] = field(default_factory=list)
    sessions: list[_Fields] = field(default_factory=list)
    laps: list[_Fields] = field(default_factory=list)
    sets: list[_Fields] = field(default_factory=list)
    workouts: list[_Fields] = field(default_factory=list)
    steps: list[_Fields] = field(default_factory=list)
    titles: list[_Fields] = field(default_factory=list)
    rec_ts: list[int | None] = field(default_factory=list)
    rec_hr: list[int | None] = field(default_factory=list)
    rec_dist: list[float | None] = field(default_factory=list)
    hr_ts: list[float] = field(default_factory=list)
    hr_bpm: list[int] = field(default_factory=list)
    error: BaseException | None = None


class _HrDecoder:
    """Expands strap-buffered ``hr`` messages into (FIT seconds, bpm) samples.

    The first message of a burst is an anchor: ``timestamp`` (+ ``fractional_timestamp``) is the
    time of its single 32-bit ``event_timestamp``. Later messages carry 12-bit event timestamps
    (1/1024 s) that roll over every 4 s; they are accumulated from the anchor's value, as in the
    Garmin SDK's ``expand_heart_rates`` (fitparse accumulates them from zero instead).
    """

    def __init__(self, out_ts: list[float], out_bpm: list[int]) -> None:
        self.anchor_t: float | None = None
        self.anchor_et = 0
        self.last_et = 0
        self.out_ts, self.out_bpm = out_ts, out_bpm

    def feed(self, msg: Any) -> None:
        ts = frac = None
        et32: list[int] = []
        et12: list[int] = []
        bpms: tuple[Any, ...] = ()
        for fd in msg.fields:
            fdef = fd.field_def
            if fdef is None:
                num = fd.field.def_num
                if num == 9 and fd.raw_value is not None:
                    et12.append(round(fd.raw_value * 1024) & 0xFFF)
                elif num == 0 and fd.raw_value is not None and frac is None:
                    frac = float(fd.raw_value)
                continue
            if fdef.__class__ is not FieldDefinition:
                continue
            num, raw = fdef.def_num, fd.raw_value
            if num == 253:
                ts = raw
            elif num == 0 and raw is not None:
                frac = raw / 32768.0
            elif num == 6:
                bpms = raw if isinstance(raw, tuple) else (raw,)
            elif num == 9 and raw is not None:
                et32 = [v for v in (raw if isinstance(raw, tuple) else (raw,)) if v is not None]
        if isinstance(ts, int) and et32:
            self.anchor_t = ts + (frac or 0.0)
            self.anchor_et = self.last_et = et32[0]
            events = et32
        elif self.anchor_t is not None and et12:
            events = []
            last = self.last_et
            for v in et12:
                nxt = (last & ~0xFFF) + v
                if v < (last & 0xFFF):
                    nxt += 0x1000
                last = nxt & 0xFFFFFFFF
                events.append(last)
            self.last_et = last
        else:
            return
        anchor_t, anchor_et = self.anchor_t, self.anchor_et
        if anchor_t is None:
            return
        for et, bpm in zip(events, bpms, strict=False):
            if isinstance(bpm, int):
                self.out_ts.append(anchor_t + ((et - anchor_et) & 0xFFFFFFFF) / 1024.0)
                self.out_bpm.append(bpm)


_REC = M["record"]
_REC_TS, _REC_HR, _REC_DIST = (
    F["record"]["timestamp"][0],
    F["record"]["heart_rate"][0],
    F["record"]["distance"][0],
)
_DIST_SCALE = F["record"]["distance"][1]


def _collect(buf: bytes) -> _Collected:
    c = _Collected()
    hr = _HrDecoder(c.hr_ts, c.hr_bpm)
    singles: dict[int, Callable[[_Fields], None]] = {
        M["file_id"]: lambda fs: setattr(c, "file_id", c.file_id or fs),
        M["activity"]: lambda fs: setattr(c, "activity", c.activity or fs),
        M["timestamp_correlation"]: lambda fs: setattr(c, "correlation", c.correlation or fs),
        M["sport"]: c.sports.append,
        M["session"]: c.sessions.append,
        M["lap"]: c.laps.append,
        M["set"]: c.sets.append,
        M["workout"]: c.workouts.append,
        M["workout_step"]: c.steps.append,
        M["exercise_title"]: c.titles.append,
    }
    rec_ts, rec_hr, rec_dist = c.rec_ts, c.rec_hr, c.rec_dist
    hr_num = M["hr"]
    try:
        ff = fitparse.FitFile(io.BytesIO(buf), check_crc=False, data_processor=_PROCESSOR)
        ff._messages = _NoCache()
        for msg in ff.get_messages():
            c.n_messages += 1
            num = msg.def_mesg.mesg_num
            if num == _REC:
                ts = bpm = dist = None
                for fd in msg.fields:
                    fdef = fd.field_def
                    if fdef is None:
                        n = fd.field.def_num
                        if n == _REC_TS:
                            ts = fd.raw_value
                        elif n == _REC_DIST and dist is None:
                            dist = fd.raw_value  # component: already in metres
                        continue
                    if fdef.__class__ is not FieldDefinition:
                        continue
                    n = fdef.def_num
                    if n == _REC_TS:
                        ts = fd.raw_value
                    elif n == _REC_HR:
                        bpm = fd.raw_value
                    elif n == _REC_DIST and fd.raw_value is not None:
                        dist = fd.raw_value / _DIST_SCALE
                rec_ts.append(ts if isinstance(ts, int) else None)
                rec_hr.append(bpm if isinstance(bpm, int) else None)
                rec_dist.append(dist if isinstance(dist, (int, float)) else None)
            elif num == hr_num:
                hr.feed(msg)
            else:
                handler = singles.get(num)
                if handler is not None:
                    handler(_fields(msg))
    except Exception as exc:  # fitparse raises odd things on hostile bytes; keep the prefix
        c.error = exc
    return c


# --------------------------------------------------------------------------------------------
# Building the ParsedFile


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


def _to_utc(seconds: Iterable[float | int | None], name: str) -> pl.Series:
    micro = [None if s is None else round((s + FIT_EPOCH_S) * 1_000_000) for s in seconds]
    return pl.Series(name, micro, dtype=pl.Int64).cast(UTC_TS)


def _dt(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds + FIT_EPOCH_S, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class _Clock:
    """Turns FIT date_time values into absolute FIT seconds, fixing device-relative ones."""

    def __init__(self, offset: float | None) -> None:
        self.offset = offset

    def __call__(self, v: float | int | None) -> float | None:
        if v is None:
            return None
        if v < RELATIVE_LIMIT:
            return None if self.offset is None else v + self.offset
        return float(v)


def _anchor(c: _Collected, warnings: list[Note]) -> tuple[_Clock, bool, Note | None]:
    """Find how to convert relative timestamps; returns (clock, had_relative, fatal_note)."""
    probe: list[int | float | None] = [c.rec_ts[0] if c.rec_ts else None]
    probe += [c.rec_ts[-1] if c.rec_ts else None]
    for fs in c.sessions:
        probe += [_int(fs, "session", "start_time"), _int(fs, "session", "timestamp")]
    for fs in c.laps[:1]:
        probe.append(_int(fs, "lap", "start_time"))
    for fs in c.sets[:1]:
        probe.append(_int(fs, "set", "timestamp"))
    if c.hr_ts:
        probe.append(c.hr_ts[0])
    if not any(v is not None and v < RELATIVE_LIMIT for v in probe):
        return _Clock(None), False, None

    if c.correlation is not None:
        absolute = _num(c.correlation, "timestamp_correlation", "timestamp")
        system = _num(c.correlation, "timestamp_correlation", "system_timestamp")
        if absolute is not None and system is not None and absolute >= RELATIVE_LIMIT:
            absolute += _num(c.correlation, "timestamp_correlation", "fractional_timestamp") or 0
            system += (
                _num(c.correlation, "timestamp_correlation", "fractional_system_timestamp") or 0
            )
            warnings.append(
                Note(
                    "relative_timestamps",
                    "The device wrote times relative to power-on; they were converted with its "
                    "timestamp_correlation message. Nothing to do.",
                )
            )
            return _Clock(absolute - system), True, None
    if c.activity is not None:
        ts = _int(c.activity, "activity", "timestamp")
        local = _int(c.activity, "activity", "local_timestamp")
        if ts is not None and local is not None and ts < RELATIVE_LIMIT <= local:
            warnings.append(
                Note(
                    "relative_timestamps",
                    "The device wrote times relative to power-on and only its local clock "
                    "anchors them, so times are local time taken as UTC (off by the watch's UTC "
                    "offset, up to 14 h). Check the session's day; set the watch's time zone "
                    "sync to avoid this.",
                )
            )
            return _Clock(float(local - ts)), True, None
    return (
        _Clock(None),
        True,
        Note(
            "relative_timestamps_unanchored",
            "The file's times are seconds since the device was switched on and nothing in it "
            "says when that was, so its sessions cannot be placed on a day. Re-export the "
            "activity from the vendor's app (which stores absolute times) and drop that file in.",
        ),
    )


def _file_info(c: _Collected, clock: _Clock, warnings: list[Note]) -> FileInfo:
    info = FileInfo()
    fs = c.file_id
    if fs is not None:
        info.file_type = _name(prof.FILE, _int(fs, "file_id", "type"))
        manu = _int(fs, "file_id", "manufacturer")
        info.manufacturer = _name(prof.MANUFACTURER, manu)
        product = _int(fs, "file_id", "product")
        if product is not None:
            garminish = info.manufacturer in {"garmin", "dynastream", "dynastream_oem", "tacx"}
            info.product = (
                prof.GARMIN_PRODUCT.get(product, str(product)) if garminish else str(product)
            )
        info.serial_number = _int(fs, "file_id", "serial_number")
        info.time_created = _dt(clock(_int(fs, "file_id", "time_created")))
    if c.activity is not None:
        ts = clock(_int(c.activity, "activity", "timestamp"))
        local = _int(c.activity, "activity", "local_timestamp")
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
    sport = raw_sport if isinstance(raw_sport, str) else _name(prof.SPORT, code)
    sub_sport = raw_sub if isinstance(raw_sub, str) else _name(prof.SUB_SPORT, sub)
    return [sport, sub_sport]


def _sessions(
    c: _Collected, clock: _Clock, rec_t: list[float | None]
) -> tuple[dict[str, list[Any]], list[Note]]:
    cols: dict[str, list[Any]] = {k: [] for k in SESSION_SCHEMA}
    notes: list[Note] = []
    sport_msgs = [
        (_int(s, "sport", "sport"), _int(s, "sport", "sub_sport"), _str(s, "sport", "name"))
        for s in c.sports
    ]
    used: set[int] = set()
    for i, fs in enumerate(c.sessions):
        code, sub = _int(fs, "session", "sport"), _int(fs, "session", "sub_sport")
        elapsed = _num(fs, "session", "total_elapsed_time")
        start = clock(_int(fs, "session", "start_time"))
        stamp = clock(_int(fs, "session", "timestamp"))
        if start is None and stamp is not None and elapsed is not None:
            start = stamp - elapsed
        end = start + elapsed if start is not None and elapsed is not None else stamp
        name = _str(fs, "session", "sport_profile_name")
        if name is None:
            for j, (s_code, s_sub, s_name) in enumerate(sport_msgs):
                if j not in used and s_code == code and (s_sub == sub or s_sub is None):
                    used.add(j)
                    name = s_name
                    break
        rpe = _num(fs, "session", "workout_rpe")
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
            _num(fs, "session", "total_timer_time"),
            _num(fs, "session", "total_distance"),
            _int(fs, "session", "avg_heart_rate"),
            _int(fs, "session", "max_heart_rate"),
            _int(fs, "session", "total_calories"),
            _num(fs, "session", "training_load_peak"),
            _num(fs, "session", "total_training_effect"),
            _num(fs, "session", "total_anaerobic_training_effect"),
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


def _frame(cols: dict[str, Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame of exactly ``schema`` from column lists; timestamp columns hold FIT seconds."""
    series = []
    for key, dtype in schema.items():
        values = cols[key]
        if isinstance(values, pl.Series):
            series.append(values.alias(key).cast(dtype))
        elif dtype == UTC_TS:
            series.append(_to_utc(values, key))
        else:
            series.append(pl.Series(key, values, dtype=dtype, strict=False))
    return pl.DataFrame(series)


def _build(c: _Collected, now: datetime | None) -> tuple[ParsedFile, Note | None]:
    warnings: list[Note] = []
    clock, had_relative, fatal = _anchor(c, warnings)
    if fatal is not None:
        return ParsedFile(status="quarantined", reason=fatal, n_messages=c.n_messages), fatal
    info = _file_info(c, clock, warnings)

    rec_t = [clock(t) for t in c.rec_ts] if had_relative else c.rec_ts
    s_cols, notes = _sessions(c, clock, rec_t)  # type: ignore[arg-type]
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
    strap_t = [clock(t) for t in c.hr_ts]
    strap_keep = [i for i, t in enumerate(strap_t) if t is not None]
    hr_t += [strap_t[i] for i in strap_keep]
    hr_b += [c.hr_bpm[i] for i in strap_keep]
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

    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        lo, hi = _dt(s), _dt(e)
        too_early = lo is not None and lo < MIN_PLAUSIBLE
        too_late = now is not None and hi is not None and hi > now + timedelta(days=1)
        if too_early or too_late or lo is None:
            when = lo.isoformat() if lo else "no readable time"
            warnings.append(
                Note(
                    "implausible_timestamp",
                    f"session_index={i} starts at {when}"
                    + (", after the current time" if too_late else "")
                    + (", before 1990" if too_early else "")
                    + "; the watch clock was probably wrong. The session is kept but not put on "
                    "a day: set the watch's clock and re-export it.",
                )
            )
    parsed = ParsedFile(
        status="stored",
        warnings=warnings,
        info=info,
        sessions=sessions,
        laps=laps,
        hr=hr,
        sets=sets,
        steps=steps,
        n_messages=c.n_messages,
    )
    return parsed, None


def _laps(
    c: _Collected, clock: _Clock, assign: Callable[[list[float | None]], pl.Series]
) -> pl.DataFrame:
    cols: dict[str, Any] = {k: [] for k in LAP_SCHEMA}
    for i, fs in enumerate(c.laps):
        elapsed = _num(fs, "lap", "total_elapsed_time")
        start = clock(_int(fs, "lap", "start_time"))
        stamp = clock(_int(fs, "lap", "timestamp"))
        if start is None and stamp is not None and elapsed is not None:
            start = stamp - elapsed
        cols["lap_index"].append(i)
        cols["start_utc"].append(start)
        cols["end_utc"].append(
            start + elapsed if start is not None and elapsed is not None else stamp
        )
        cols["elapsed_s"].append(elapsed)
        cols["timer_s"].append(_num(fs, "lap", "total_timer_time"))
        cols["distance_m"].append(_num(fs, "lap", "total_distance"))
        cols["avg_hr"].append(_int(fs, "lap", "avg_heart_rate"))
        cols["max_hr"].append(_int(fs, "lap", "max_heart_rate"))
        cols["calories_kcal"].append(_int(fs, "lap", "total_calories"))
    cols["session_index"] = assign(cols["start_utc"])
    return _frame(cols, LAP_SCHEMA)


def _sets(
    c: _Collected, clock: _Clock, assign: Callable[[list[float | None]], pl.Series]
) -> pl.DataFrame:
    cols: dict[str, Any] = {k: [] for k in SET_SCHEMA}
    for i, fs in enumerate(c.sets):
        duration = _num(fs, "set", "duration")
        start = clock(_int(fs, "set", "start_time"))
        stamp = clock(_int(fs, "set", "timestamp"))
        if start is None and stamp is not None:
            start = stamp - (duration or 0.0)
        codes = _codes(fs, "set", "category")
        names = [prof.EXERCISE_CATEGORY.get(x, str(x)) for x in codes]
        subtypes = _codes(fs, "set", "category_subtype")
        first = next((j for j, x in enumerate(codes) if x != UNKNOWN_CATEGORY), None)
        category = names[first] if first is not None else "unknown"
        subtype = subtypes[first] if first is not None and first < len(subtypes) else None
        if subtype == UNKNOWN_CATEGORY:
            subtype = None
        set_type = _int(fs, "set", "set_type")
        cols["set_index"].append(i)
        cols["set_type"].append(_name(prof.SET_TYPE, set_type))
        cols["start_utc"].append(start)
        cols["duration_s"].append(duration)
        cols["repetitions"].append(_int(fs, "set", "repetitions"))
        cols["weight_kg"].append(_num(fs, "set", "weight"))
        cols["category"].append(category)
        cols["categories"].append(names)
        cols["category_codes"].append(codes)
        cols["category_subtype"].append(subtype)
        cols["exercise_name"].append(_exercise(category if first is not None else None, subtype))
        cols["wkt_step_index"].append(_int(fs, "set", "wkt_step_index"))
    cols["session_index"] = assign(cols["start_utc"])
    return _frame(cols, SET_SCHEMA)


def _steps(c: _Collected) -> pl.DataFrame:
    cols: dict[str, list[Any]] = {k: [] for k in STEP_SCHEMA}

    def add(i: int, source: str, name: str | None, cat: int | None, ex: int | None) -> None:
        category = None if cat is None else prof.EXERCISE_CATEGORY.get(cat, str(cat))
        cols["step_index"].append(i)
        cols["source"].append(source)
        cols["name"].append(name)
        cols["category"].append(category)
        cols["exercise_name"].append(_exercise(category, ex))

    for i, fs in enumerate(c.workouts):
        add(i, "workout", _str(fs, "workout", "wkt_name"), None, None)
    for i, fs in enumerate(c.steps):
        add(
            i,
            "workout_step",
            _str(fs, "workout_step", "wkt_step_name"),
            _int(fs, "workout_step", "exercise_category"),
            _int(fs, "workout_step", "exercise_name"),
        )
    for i, fs in enumerate(c.titles):
        add(
            i,
            "exercise_title",
            _str(fs, "exercise_title", "wkt_step_name"),
            _int(fs, "exercise_title", "exercise_category"),
            _int(fs, "exercise_title", "exercise_name"),
        )
    return _frame(cols, STEP_SCHEMA)


# --------------------------------------------------------------------------------------------
# Public entry point


def _quarantine(code: str, message: str, n: int = 0) -> ParsedFile:
    return ParsedFile(status="quarantined", reason=Note(code, message), n_messages=n)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def parse_fit(data: bytes, *, now: datetime | None = None) -> ParsedFile:
    """Decode one FIT file's bytes; never raises for bad input (see the module docstring).

    ``now`` (tz-aware UTC) is only used to flag sessions dated in the future.
    """
    try:
        return _parse(bytes(data), now)
    except Exception as exc:  # a bug of ours must not stop the batch; record it on the file
        return _quarantine(
            "decode_error",
            f"legday could not decode this file ({_describe(exc)}). Report it with the file "
            "attached; it was kept in quarantine.",
        )


def _parse(data: bytes, now: datetime | None) -> ParsedFile:
    if not data:
        return _quarantine(
            "empty", "The file is empty (0 bytes). Copy it again from the watch or app."
        )
    chain = _walk(data)
    if not chain.chunks and chain.tail != "truncated":
        return _quarantine(
            "not_fit",
            "This is not a FIT file (no '.FIT' header in its first 12 bytes). Export the "
            "activity as an original FIT file and drop that in.",
        )

    problems: list[Note] = []
    bad_crc = []
    for start, end in chain.chunks:
        stored_crc = data[end - 2] | (data[end - 1] << 8)
        if fit_crc(memoryview(data)[start : end - 2]) != stored_crc:
            bad_crc.append(start)

    end = chain.chunks[-1][1] if chain.chunks else 0
    buf = data if chain.tail == "truncated" else data[:end]
    c = _collect(buf)

    if chain.tail == "truncated":
        problems.append(
            Note(
                "truncated",
                f"The file ends before its declared length ({len(data)} bytes present"
                + (f"; {_describe(c.error)}" if c.error else "")
                + "). It was probably still being copied or the device stopped while writing; "
                "everything before the break was kept. Copy it again if the original is whole.",
            )
        )
    elif isinstance(c.error, (FitEOFError, FitHeaderError)):
        # The declared length is there, but the messages inside run past it: the device wrote
        # a broken last message (a dying battery, a crash) or a length that lies.
        problems.append(
            Note(
                "truncated",
                f"The messages of the file stop before its end ({_describe(c.error)}): the "
                "device probably stopped while writing. Everything before the break was kept; "
                "re-export the file from the watch or app if you have the original.",
            )
        )
    elif c.error is not None and type(c.error) is FitParseError:
        problems.append(
            Note(
                "truncated",
                f"The file stops making sense part-way ({_describe(c.error)}); everything "
                "before that point was kept. Re-export it from the watch or app if you can.",
            )
        )
    elif c.error is not None and not isinstance(c.error, FitCRCError):
        problems.append(
            Note(
                "decode_error",
                f"fitparse failed part-way through the file ({_describe(c.error)}); "
                "everything before that point was kept. Re-export it from the watch or app.",
            )
        )
    if chain.tail == "garbage":
        problems.append(
            Note(
                "trailing_bytes",
                f"{len(data) - chain.tail_start} bytes after the end of the FIT data are not FIT "
                "data; they were ignored. Re-export the file if something seems missing.",
            )
        )
    zero_pad = chain.tail == "zeros"
    if bad_crc:
        problems.append(
            Note(
                "crc_mismatch",
                f"{len(bad_crc)} of {len(chain.chunks)} FIT chunk(s) fail the CRC check, so some "
                "values may be corrupted; the data was kept. Copy the file again from the device.",
            )
        )

    if c.n_messages == 0:
        first = problems[0] if problems else None
        if first is not None and first.code in {"truncated", "decode_error"}:
            return _quarantine(first.code, first.message)
        return _quarantine(
            "no_data",
            "The FIT header is sound but the file holds no decodable message. Re-export it.",
        )

    parsed, fatal = _build(c, now)
    if fatal is not None:
        return parsed
    usable = (
        parsed.sessions.height
        or parsed.sets.height
        or parsed.steps.height
        or parsed.hr.height
        or parsed.laps.height
    )
    if problems and not usable:
        return _quarantine(problems[0].code, problems[0].message, c.n_messages)
    if zero_pad:
        parsed.warnings.append(
            Note(
                "zero_padding",
                f"{len(data) - chain.tail_start} zero bytes follow the FIT data (padding from a "
                "copy tool); they were ignored. Nothing to do.",
            )
        )
    if problems:
        parsed.status = "partial"
        parsed.reason = problems[0]
        parsed.warnings.extend(problems[1:])
    return parsed


class _NoCache(list[object]):
    """A message list that keeps nothing.

    fitparse 1.2.0 keeps every decoded message of a file (its issue #59: 90 MB for 75k messages);
    its ``UncachedFitFile`` is unreleased. Each message is read once as it is decoded, so nothing
    needs keeping: memory per parser stays flat whatever the file's size.
    """

    def append(self, _item: object) -> None:
        pass


def read_file(path: Path) -> tuple[bytes | None, str | None]:
    """The bytes of a file, or why they could not be read."""
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}; check its permissions"


def parse_file(
    path: str, now: datetime | None
) -> tuple[str | None, int, ParsedFile | None, str | None]:
    """Read, hash and parse one file: the job of a parser process.

    It lives here, beside ``parse_fit``, so that a parser process imports only this module
    (not the store and DuckDB). Returns ``(sha256, size, parsed, read_error)``.
    """
    data, err = read_file(Path(path))
    if data is None:
        return None, 0, None, err
    return hashlib.sha256(data).hexdigest(), len(data), parse_fit(data, now=now), None
