"""The only module that imports fitparse: FIT bytes in, plain Python lists out. No file I/O.

``collect`` runs fitparse once over a byte string and keeps what legday reads: the fields of the
few message kinds it uses (as ``Fields`` dicts keyed by field number), record times, heart rates
and distances as flat lists, and the raw fields of strap ``hr`` messages. fitparse runs with
``check_crc=False`` (``container`` checks CRCs, faster) and a data processor whose hooks are the
builtin ``id``: no unit conversion, no datetime objects. Why fitparse stopped early is turned into
a ``Stop`` here, so no other module needs fitparse's exception classes.

Speed-ups (``enable_fast_decode``): fitparse 1.2.0 builds one ``FieldData`` per field of every
message through a generic ``zip_longest``/``setattr`` loop, a quarter of all parse time, and keeps
every decoded message of a file (its issue #59: 90 MB for 75k messages). The fast mode replaces
``FieldData.__init__`` with direct slot assignment (for every fitparse user in the process, which
is why only a parser process calls it) and gives each ``FitFile`` a message list that keeps
nothing. It is never applied by importing this module, and only when the installed fitparse is the
version and ``FieldData`` has the slots it was written for; otherwise decoding stays stock and a
warning says so once. ``tests/test_fast_decode.py`` checks that both modes give the same
``get_values()`` for every message of every corpus and sample file.
"""

from __future__ import annotations

import enum
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fitparse
from fitparse.records import FieldData, FieldDefinition
from fitparse.utils import FitCRCError, FitEOFError, FitHeaderError, FitParseError

from pipeline.fit import profile as prof
from pipeline.fit.fields import Fields
from pipeline.fit.schemas import DecodedPlanFile

__all__ = [
    "Collected",
    "HrFields",
    "Stop",
    "collect",
    "enable_fast_decode",
    "fast_decode_enabled",
    "open_fit",
    "plan_messages",
]

log = logging.getLogger(__name__)

#: The fitparse release and FieldData slots the fast mode was written and checked against.
FAST_FOR_VERSION = "1.2.0"
FAST_FOR_SLOTS = ("field_def", "field", "parent_field", "value", "raw_value", "units")

_fast = False
_refused: str | None = None  # why the fast mode was refused, once known


def _field_data_init(
    self: Any,
    field_def: Any = None,
    field: Any = None,
    parent_field: Any = None,
    value: Any = None,
    raw_value: Any = None,
    units: Any = None,
) -> None:
    # Same slots, same result as fitparse 1.2.0's (units default to the field's), assigned
    # directly. fitparse calls it with keywords only.
    self.field_def = field_def
    self.field = field
    self.parent_field = parent_field
    self.value = value
    self.raw_value = raw_value
    self.units = units if units or not field else field.units


def _fast_decode_problem() -> str | None:
    version = getattr(fitparse, "__version__", None)
    if version != FAST_FOR_VERSION:
        return f"fitparse is {version}, the fast mode was written for {FAST_FOR_VERSION}"
    if getattr(FieldData, "__slots__", None) != FAST_FOR_SLOTS:
        return f"fitparse's FieldData has slots {getattr(FieldData, '__slots__', None)}"
    return None


def enable_fast_decode() -> bool:
    """Switch this process's fitparse to the fast mode, if it is safe; True when it is on.

    Idempotent and cheap after the first call. Call it in the process that parses (a parser
    worker), not in a process where other code uses fitparse too.
    """
    global _fast, _refused
    if _fast or _refused is not None:
        return _fast
    problem = _fast_decode_problem()
    if problem is not None:
        _refused = problem
        log.warning(
            "FIT decoding runs at stock fitparse speed: %s; legday works the same.", problem
        )
        return False
    FieldData.__init__ = _field_data_init
    _fast = True
    return True


def fast_decode_enabled() -> bool:
    """Whether ``enable_fast_decode`` has switched this process to the fast mode."""
    return _fast


class _RawProcessor:
    """A fitparse data processor that does nothing, cheaply: raw ints stay raw ints."""

    run_type_processor = staticmethod(id)
    run_field_processor = staticmethod(id)
    run_unit_processor = staticmethod(id)
    run_message_processor = staticmethod(id)


_PROCESSOR = _RawProcessor()


class _NoCache(list[object]):
    """A message list that keeps nothing: each message is read once as it is decoded."""

    def append(self, _item: object) -> None:
        pass


def open_fit(data: bytes, *, raw: bool = True, check_crc: bool = False) -> Any:
    """A ``fitparse.FitFile`` over ``data`` as legday opens one.

    ``raw`` gives the do-nothing data processor (fitparse's default one otherwise); in the fast
    mode the file keeps no decoded messages. The tests open files this way to compare the fast
    mode with stock fitparse.
    """
    ff = fitparse.FitFile(
        io.BytesIO(data), check_crc=check_crc, data_processor=_PROCESSOR if raw else None
    )
    if _fast:
        ff._messages = _NoCache()
    return ff


class Stop(enum.Enum):
    """Why fitparse stopped before the end of the bytes it was given."""

    #: The messages run past the data (a broken last message, a lying length).
    EOF = "eof"
    #: The bytes stop making sense (an undefined local message type, say).
    UNREADABLE = "unreadable"
    #: A CRC error (not raised with ``check_crc=False``; kept apart as before).
    CRC = "crc"
    #: Anything else fitparse raised on hostile bytes.
    OTHER = "other"


def _stop(exc: BaseException) -> Stop:
    if isinstance(exc, (FitEOFError, FitHeaderError)):
        return Stop.EOF
    if type(exc) is FitParseError:
        return Stop.UNREADABLE
    if isinstance(exc, FitCRCError):
        return Stop.CRC
    return Stop.OTHER


@dataclass(slots=True)
class HrFields:
    """The fields of one strap-buffered ``hr`` message, as ``hr.HrDecoder`` needs them."""

    timestamp: Any = None  # FIT seconds of the anchor message, else None
    fractional: float | None = None  # seconds
    event_timestamps: list[int] = field(default_factory=list)  # 32-bit, 1/1024 s
    event_timestamps_12: list[int] = field(default_factory=list)  # 12-bit, 1/1024 s
    bpms: tuple[Any, ...] = ()


@dataclass
class Collected:
    """One pass over a file's messages: what frame building reads, in file order."""

    n_messages: int = 0
    file_id: Fields | None = None
    activity: Fields | None = None
    correlation: Fields | None = None
    sports: list[Fields] = field(default_factory=list)
    sessions: list[Fields] = field(default_factory=list)
    laps: list[Fields] = field(default_factory=list)
    sets: list[Fields] = field(default_factory=list)
    workouts: list[Fields] = field(default_factory=list)
    steps: list[Fields] = field(default_factory=list)
    titles: list[Fields] = field(default_factory=list)
    rec_ts: list[int | None] = field(default_factory=list)
    rec_hr: list[int | None] = field(default_factory=list)
    rec_dist: list[float | None] = field(default_factory=list)
    hr_msgs: list[HrFields] = field(default_factory=list)
    error: BaseException | None = None  # what fitparse raised, for the message
    stop: Stop | None = None  # None: fitparse read to the end


def _fields(msg: Any) -> Fields:
    out: Fields = {}
    comps: Fields = {}
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


def _hr_fields(msg: Any) -> HrFields:
    h = HrFields()
    for fd in msg.fields:
        fdef = fd.field_def
        if fdef is None:  # components of event_timestamp_12 and fractional_timestamp
            num = fd.field.def_num
            if num == 9 and fd.raw_value is not None:
                h.event_timestamps_12.append(round(fd.raw_value * 1024) & 0xFFF)
            elif num == 0 and fd.raw_value is not None and h.fractional is None:
                h.fractional = float(fd.raw_value)
            continue
        if fdef.__class__ is not FieldDefinition:
            continue
        num, raw = fdef.def_num, fd.raw_value
        if num == 253:
            h.timestamp = raw
        elif num == 0 and raw is not None:
            h.fractional = raw / 32768.0
        elif num == 6:
            h.bpms = raw if isinstance(raw, tuple) else (raw,)
        elif num == 9 and raw is not None:
            seq = raw if isinstance(raw, tuple) else (raw,)
            h.event_timestamps = [v for v in seq if v is not None]
    return h


F, M = prof.FIELDS, prof.MESG_NUM
_REC = M["record"]
_REC_TS, _REC_HR, _REC_DIST = (
    F["record"]["timestamp"][0],
    F["record"]["heart_rate"][0],
    F["record"]["distance"][0],
)
_DIST_SCALE = F["record"]["distance"][1]


def collect(buf: bytes) -> Collected:
    """Decode ``buf`` with fitparse; never raises (a failure part-way keeps the prefix)."""
    c = Collected()
    singles: dict[int, Callable[[Fields], None]] = {
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
    rec_ts, rec_hr, rec_dist, hr_msgs = c.rec_ts, c.rec_hr, c.rec_dist, c.hr_msgs
    hr_num = M["hr"]
    try:
        for msg in open_fit(buf).get_messages():
            c.n_messages += 1
            num = msg.def_mesg.mesg_num
            if num == _REC:
                # The hot loop (most messages are records): read three fields in place.
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
                hr_msgs.append(_hr_fields(msg))
            else:
                handler = singles.get(num)
                if handler is not None:
                    handler(_fields(msg))
    except Exception as exc:  # fitparse raises odd things on hostile bytes; keep the prefix
        c.error, c.stop = exc, _stop(exc)
    return c


#: Global message numbers of a plan file's messages (FIT profile; ``profile`` keeps only the
#: messages frame building reads, which lacks ``schedule``).
_PLAN_MESSAGES = {0: "file_id", 26: "workout", 27: "workout_step", 28: "schedule"}


def plan_messages(buf: bytes) -> DecodedPlanFile:
    """The messages of a workout or schedules file as ``get_values()`` gives them (``name=""``).

    A second pass over the bytes with fitparse's standard data processor (the plan readers
    take its enum names, scales and datetimes, ``pipeline.plans.fit``); called only for files
    whose ``file_id.type`` says workout or schedules, which are a few hundred bytes, so activity
    files keep the one raw pass. A failure part-way keeps the messages before it.
    """
    got: dict[str, list[dict[str, Any]]] = {n: [] for n in _PLAN_MESSAGES.values()}
    try:
        for msg in open_fit(buf, raw=False).get_messages():
            name = _PLAN_MESSAGES.get(msg.def_mesg.mesg_num)
            if name is not None:
                got[name].append(msg.get_values())
    except Exception:  # hostile bytes: collect() has already said why the file stopped
        pass
    return DecodedPlanFile(
        name="",
        file_id=got["file_id"][0] if got["file_id"] else {},
        workout=got["workout"][0] if got["workout"] else None,
        workout_steps=tuple(got["workout_step"]),
        schedules=tuple(got["schedule"]),
    )
