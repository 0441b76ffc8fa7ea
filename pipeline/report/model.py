"""The daily report as types: what ``build_report`` makes and every renderer reads. Pure.

A ``Report`` is one athlete's local day ``[midnight, next midnight)`` in the athlete's IANA
zone (23 or 25 h on DST days). Every instant in it is an aware ``datetime`` in that zone, cut to
whole seconds, so the JSON's ``{"local", "utc"}`` stamps and the times the Markdown and HTML
print are the same instants. Field names are the JSON keys: ``to_json_dict`` walks the fields,
and ``render_json`` writes the layout that ``schema.json`` describes (``REPORT_SCHEMA_VERSION``;
removing or renaming a field needs a new major version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.derive.recovery import Severity
from pipeline.report.sections import ComingUp, LegFatigue, RunsEvidence

REPORT_SCHEMA_VERSION = "1.2"  # 1.1 added "evidence"; 1.2 coming_up, leg_fatigue, runs_evidence
#: The JSON Schema of ``render_json`` output (read it with ``json.loads(path.read_text())``).
REPORT_SCHEMA_PATH = Path(__file__).with_name("schema.json")

LOAD_LABEL = (
    "Context only: systemic training load from heart rate. It does not decide the flags, "
    "which look at leg sessions and run intensity."
)

#: Sections a report may go without (schema 1.2); absent from the JSON when not given.
OPTIONAL_SECTIONS = ("coming_up", "leg_fatigue", "runs_evidence")
#: Field metadata of an optional JSON key: left out of the JSON while empty (None or ()), so a
#: report without it reads as before (schema.json lists it, not required).
OPTIONAL = {"optional": True}

#: A value of a file's record (``FileToLookAt.record``) as the JSON carries it.
JsonScalar = str | float | int | bool | None


@dataclass(frozen=True)
class Athlete:
    id: str
    name: str | None
    timezone: str  # IANA key, e.g. Europe/Berlin

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Day:
    """The local day's bounds; ``hours`` is its real length (23, 24 or 25)."""

    start: datetime
    end: datetime
    hours: float


@dataclass(frozen=True)
class Summary:
    worst_severity: Severity | None  # None without flags
    alerts: int
    warnings: int
    infos: int
    sessions: int
    runs: int
    leg_sessions: int


@dataclass(frozen=True)
class Flag:
    """A run that started this day too soon after a leg session (``recovery_flags``)."""

    flag_id: str
    severity: Severity
    rule: str
    evidence: str | None  # cited keys, "S2, S3"
    message: str
    run_activity_id: str
    run_name: str
    run_start: datetime
    run_intensity: str
    leg_activity_id: str
    leg_name: str
    leg_end: datetime
    hours_between: float | None  # real elapsed hours, leg end to run start
    threshold_hours: float | None
    leg_heavy: bool
    leg_unaccustomed: bool
    intense_ok_from: datetime | None


@dataclass(frozen=True)
class EvidenceLine:
    """A study a flag cites; ``finding`` is empty for a key legday does not know."""

    key: str
    citation: str
    finding: str


@dataclass(frozen=True)
class SessionEntry:
    """A session that started this day, with its metrics (minutes in zones, TRIMP)."""

    activity_id: str
    kind: str
    name: str
    sport: str | None
    sub_sport: str | None
    start: datetime
    end: datetime | None
    duration_s: float | None
    distance_m: float | None
    avg_hr: float | None
    peak_hr: int | None
    trimp: float | None
    zone_minutes: tuple[float, ...] | None  # Z1..Z5 of the report's zone model
    z4plus_minutes: float | None
    intensity: str | None  # runs only
    intensity_reason: str | None
    heavy: bool | None  # strength sessions only
    leg_score: float | None
    classification_reason: str | None
    flag_severity: Severity | None  # the flag of this run, if any


@dataclass(frozen=True)
class LegsState:
    """The legs at the end of the day (``recovery.legs_state``); ids pass through unchanged."""

    status: str  # ready, recovering, possibly recovering
    as_of: datetime | None
    last_leg_activity_id: str | None
    last_leg_name: str | None
    last_leg_end: datetime | None
    hours_since: float | None
    heavy: bool | None
    unaccustomed: bool | None
    leg_score: float | None
    window_hours: float | None
    intense_ok_from: datetime | None  # when an intense run is advised again
    limiting_leg_activity_id: str | None
    #: Possible leg sessions (strength, region unknown) inside their window at ``as_of``.
    possible_leg_activity_ids: tuple[str, ...] = field(default=(), metadata=OPTIONAL)
    possible_ok_from: datetime | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True)
class SettleCommand:
    """A command that settles a possible leg session (``legday label <id> <kind>``)."""

    kind: str
    command: str
    meaning: str  # "it trained legs" / "it did not train legs"


@dataclass(frozen=True)
class SessionToSettle:
    """A possible leg session that matters for this day's flags or legs, and how to settle it."""

    activity_id: str
    name: str
    start: datetime
    end: datetime
    why_unknown: str
    commands: tuple[SettleCommand, ...]
    flagged_run_ids: tuple[str, ...]  # runs of this day its ``possible_legs`` flags name
    inside_window: bool  # it keeps the legs "possibly recovering" at the end of the day


@dataclass(frozen=True)
class Known:
    """How much is known: strength sessions of ``days`` days by verdict and by evidence."""

    days: int
    unknown_strength: str  # possible, legs, not_legs (the athlete's setting)
    by_verdict: dict[str, int]  # legs, not_legs, possible
    by_evidence: dict[str, int]  # sets, names, summary, label, learned, none
    sentence: str
    setting_note: str | None  # what the setting made of unknown sessions, said once


@dataclass(frozen=True)
class Load:
    """Systemic load from heart rate, shown for context: it does not decide flags."""

    trimp_7d: float | None
    trimp_28d: float | None
    ctl: float | None
    atl: float | None
    tsb: float | None
    acwr: float | None
    acwr_band: str | None
    method: str | None
    label: str = LOAD_LABEL


@dataclass(frozen=True)
class Zone:
    zone: str  # Z1..Z5
    low_bpm: int
    high_bpm: int


@dataclass(frozen=True)
class HrProfileEntry:
    max_hr: int
    max_hr_source: str
    resting_hr: int
    resting_hr_source: str
    lthr: int
    lthr_source: str
    sex: str | None
    zone_model: str  # hrmax, hrr, lthr
    zones: tuple[Zone, ...]


@dataclass(frozen=True)
class FileToLookAt:
    """A file that was not stored (quarantined) or stored with something lost (partial).

    ``record`` is the row as the caller gave it (file, status, reason_code, message, seen_utc,
    location: where it was seen last); the JSON carries it verbatim. The other fields are what
    a person reads: a name, why, and where to find the file.
    """

    label: str
    reason: str
    message: str | None
    location: str | None
    record: tuple[tuple[str, JsonScalar], ...]

    def line(self) -> str:
        """```name`: reason — message (last seen at location)``, with Markdown code spans."""
        text = f"`{self.label}`: {self.reason}" + (f" — {self.message}" if self.message else "")
        return text + (f" (last seen at {self.location})" if self.location else "")


#: The two kinds of "files to look at", as the report names them (md, html and the artifact).
LOOK_AT_HEADINGS = {
    "quarantined": "Quarantined: not stored",
    "partial": "Partial: stored, with something lost",
}


@dataclass(frozen=True)
class LookAtGroup:
    """The files to look at of one kind, under its heading (``LOOK_AT_HEADINGS``), one line each."""

    heading: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """The report of one athlete's local day; the field order is not the JSON's (sorted keys)."""

    athlete: Athlete
    date: date
    day: Day
    generated_at: datetime
    summary: Summary
    flags: tuple[Flag, ...]  # strongest first
    evidence: tuple[EvidenceLine, ...]
    sessions: tuple[SessionEntry, ...]  # in start order
    legs: LegsState
    load_context: Load
    hr_profile: HrProfileEntry
    quarantined: tuple[FileToLookAt, ...]
    partial: tuple[FileToLookAt, ...]
    schema_version: str = REPORT_SCHEMA_VERSION
    # Since 1.2; None: not given to ``build_report`` (left out of the JSON and the pages).
    coming_up: ComingUp | None = None
    leg_fatigue: LegFatigue | None = None
    runs_evidence: RunsEvidence | None = None
    sessions_to_settle: tuple[SessionToSettle, ...] = field(default=(), metadata=OPTIONAL)
    known: Known | None = field(default=None, metadata=OPTIONAL)

    @property
    def tz(self) -> ZoneInfo:
        return self.athlete.tz

    def files_to_look_at(self) -> list[LookAtGroup]:
        """The quarantined, then the partial files, kinds with files only."""
        groups = []
        for kind, files in (("quarantined", self.quarantined), ("partial", self.partial)):
            if files:
                lines = tuple(f.line() for f in files)
                groups.append(LookAtGroup(LOOK_AT_HEADINGS[kind], lines))
        return groups

    def to_json_dict(self) -> dict[str, object]:
        """The report as ``schema.json`` lays it out (stamps, lists and plain values)."""
        out = _jsonable(self)
        assert isinstance(out, dict)
        # The 1.2 sections are optional: a report without them keeps the 1.1 layout.
        return {k: v for k, v in out.items() if v is not None or k not in OPTIONAL_SECTIONS}


def _stamp(ts: datetime) -> dict[str, str]:
    """``{"local": ISO with offset, "utc": ISO with Z}`` of an aware instant."""
    return {
        "local": ts.isoformat(timespec="seconds"),
        "utc": ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def _jsonable(value: object) -> object:
    # datetime before date: a datetime is a date too.
    if isinstance(value, datetime):
        return _stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, FileToLookAt):
        return dict(value.record)
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name))
            for f in fields(value)
            if not (f.metadata.get("optional") and getattr(value, f.name) in (None, ()))
        }
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def render_json(report: Report) -> str:
    """Stable JSON: sorted keys, two-space indent, UTF-8 text, trailing newline."""
    return json.dumps(report.to_json_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
