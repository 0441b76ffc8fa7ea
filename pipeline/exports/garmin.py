"""Read the summaries people export from Garmin Connect and Strava (pure: bytes in, values out).

Garmin "Export Your Data" holds ``DI_CONNECT/DI-Connect-Fitness/*_summarizedActivities.json``
(per activity: title, type, start in epoch ms, duration in ms, strength exercise summaries);
a Strava bulk export holds ``activities.csv`` (title, type, start, the file of each row).
Formats: ``../shared/research/exports.md`` sections 1 and 2; ``docs/exports.md`` says what is
read and what is assumed. Where that reference marks a detail UNCONFIRMED the readers accept
every shape seen in the sources and record what was unexpected (``ActivitySummary.unexpected``,
``SummaryFile.notes``); only a file that is not such an export at all raises
``ExportFormatError``.

This module is the public door: it re-exports the contracts (``exports_types``), the layout
finder (``exports_layout``) and matching with the title hint (``exports_match``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from pipeline.exports.layout import ExportLayout, ExportMember, MemberRole, find_export_members
from pipeline.exports.match import (
    MatchHow,
    RegionHint,
    SummaryMatch,
    match_summaries,
    title_region_hint,
)
from pipeline.exports.strava import parse_strava_activities_csv, read_strava_activities_csv
from pipeline.exports.types import (
    ActivitySummary,
    ExerciseSummary,
    ExportFormatError,
    ExportSource,
    SummaryFile,
)

__all__ = [
    "ActivitySummary",
    "ExerciseSummary",
    "ExportFormatError",
    "ExportLayout",
    "ExportMember",
    "ExportSource",
    "MatchHow",
    "MemberRole",
    "RegionHint",
    "SummaryFile",
    "SummaryMatch",
    "find_export_members",
    "match_summaries",
    "parse_garmin_summaries",
    "parse_strava_activities_csv",
    "read_garmin_summaries",
    "read_strava_activities_csv",
    "title_region_hint",
]

_WRAPPER_KEY = "summarizedActivitiesExport"
_SET_KEYS = frozenset(
    {"category", "subCategory", "sets", "reps", "maxWeight", "volume", "duration"}
)
_EPOCH_MS_MIN = 1e11  # 1973 in ms; smaller numbers are taken as seconds (with a note)
_EPOCH_S_MIN = 1e8  # 1973 in s; anything smaller is no start time
_EPOCH_MS_MAX = 7.3e12  # 2201 in ms; larger numbers are no start time (and would overflow)


def _num(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def _int(value: Any) -> int | None:
    out = _num(value)
    return round(out) if out is not None else None


def _epoch(value: Any, key: str, notes: list[str]) -> datetime | None:
    """An instant from epoch ms (documented), epoch s or an ISO string (lenient, noted)."""
    if isinstance(value, str) and _num(value) is None:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            notes.append(f"{key} {value!r} is not a time; ignored")
            return None
        if not 1970 <= parsed.year <= 2200:
            notes.append(f"{key} {value!r} is outside 1970-2200; ignored")
            return None
        notes.append(f"{key} was a text time {value!r}, not epoch ms")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    number = _num(value)
    if number is None or number < _EPOCH_S_MIN:
        notes.append(f"{key} {value!r} is not an epoch time; ignored")
        return None
    if number < _EPOCH_MS_MIN:
        notes.append(f"{key} {value!r} looks like epoch seconds, not ms; read as seconds")
        number *= 1000.0
    if number > _EPOCH_MS_MAX:
        notes.append(f"{key} {value!r} is after the year 2200; ignored")
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=number)


def _garmin_start(
    raw: Mapping[str, Any], zone: tzinfo | None, notes: list[str]
) -> tuple[datetime | None, datetime | None]:
    """(start_utc, start_local): startTimeGmt, else beginTimestamp, else local time + zone."""
    local = None
    if raw.get("startTimeLocal") is not None:
        wall = _epoch(raw["startTimeLocal"], "startTimeLocal", notes)
        # The local value is the wall clock written as if it were UTC: read it with UTC getters.
        local = wall.astimezone(UTC).replace(tzinfo=None) if wall is not None else None
    for key in ("startTimeGmt", "beginTimestamp"):
        if raw.get(key) is not None:
            start = _epoch(raw[key], key, notes)
            if start is not None:
                if key != "startTimeGmt":
                    notes.append(f"no usable startTimeGmt; start taken from {key}")
                return start.astimezone(UTC), local
    if local is not None and zone is not None:
        notes.append(f"no UTC start; startTimeLocal read in zone {zone}")
        return local.replace(tzinfo=zone).astimezone(UTC), local
    notes.append("no UTC start time (startTimeGmt, beginTimestamp); matched by file only")
    return None, local


def _exercise(raw: Any, index: int, notes: list[str]) -> ExerciseSummary | None:
    if not isinstance(raw, Mapping):
        notes.append(f"summarizedExerciseSets[{index}] is not an object; skipped")
        return None
    extra = sorted(set(raw) - _SET_KEYS)
    if extra:
        notes.append(f"summarizedExerciseSets[{index}] has extra keys {extra}; kept the rest")
    category = raw.get("category")
    if not isinstance(category, str) or not category.strip():
        notes.append(f"summarizedExerciseSets[{index}] has no category; read as UNKNOWN")
        category = "UNKNOWN"
    sub = raw.get("subCategory")
    grams = _num(raw.get("maxWeight"))
    volume = _num(raw.get("volume"))
    ms = _num(raw.get("duration"))
    return ExerciseSummary(
        category=category.strip(),
        sub_category=sub.strip() if isinstance(sub, str) and sub.strip() else None,
        sets=_int(raw.get("sets")),
        reps=_int(raw.get("reps")),
        # Garmin writes -1 (no weight) on bodyweight work; a weight is never negative.
        max_weight_kg=grams / 1000.0 if grams is not None and grams >= 0 else None,
        volume_kg=volume / 1000.0 if volume is not None and volume >= 0 else None,
        duration_s=ms / 1000.0 if ms is not None and ms >= 0 else None,
    )


def _text(raw: Mapping[str, Any], key: str, notes: list[str]) -> str | None:
    value = raw.get(key)
    if isinstance(value, Mapping) and isinstance(value.get("typeKey"), str):
        notes.append(f"{key} was an object (API shape); took its typeKey")
        value = value["typeKey"]
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    notes.append(f"{key} {value!r} is not text; read as {str(value)!r}")
    return str(value)


def _garmin_activity(raw: Mapping[str, Any], zone: tzinfo | None) -> ActivitySummary | None:
    notes: list[str] = []
    start, local = _garmin_start(raw, zone, notes)
    activity_id = raw.get("activityId")
    if isinstance(activity_id, float) and activity_id.is_integer():
        activity_id = int(activity_id)
    if activity_id is None or isinstance(activity_id, bool) or str(activity_id).strip() == "":
        if start is None:
            return None
        notes.append("no activityId; identified by its start time")
        activity_id = f"start-{int(start.timestamp() * 1000)}"
    duration = None
    for key in ("duration", "elapsedDuration", "movingDuration"):
        ms = _num(raw.get(key))
        if ms is not None and ms >= 0:
            if key != "duration":
                notes.append(f"no usable duration; took {key}")
            duration = ms / 1000.0
            break
    else:
        notes.append("no duration (duration, elapsedDuration, movingDuration)")
    exercises: list[ExerciseSummary] = []
    raw_sets = raw.get("summarizedExerciseSets")
    if raw_sets is not None and not isinstance(raw_sets, list):
        notes.append("summarizedExerciseSets is not a list; ignored")
    elif raw_sets:
        for i, one in enumerate(raw_sets):
            ex = _exercise(one, i, notes)
            if ex is not None:
                exercises.append(ex)
    title = _text(raw, "name", notes)
    if title is None:
        notes.append("no name (title)")
    return ActivitySummary(
        source=ExportSource.GARMIN_SUMMARY,
        source_id=str(activity_id).strip(),
        title=title,
        activity_type=_text(raw, "activityType", notes),
        sport_type=_text(raw, "sportType", notes),
        start_utc=start,
        start_local=local,
        duration_s=duration,
        exercises=tuple(exercises),
        unexpected=tuple(notes),
    )


def _garmin_entries(doc: Any, notes: list[str]) -> list[Any]:
    """The activity entries of every top-level shape seen: ``[{wrapper: [...]}]`` documented."""

    def unwrap(obj: Mapping[str, Any], where: str) -> list[Any]:
        extra = sorted(k for k in obj if k != _WRAPPER_KEY)
        if extra:
            notes.append(f"{where} has keys besides {_WRAPPER_KEY}: {extra}; ignored")
        inner = obj[_WRAPPER_KEY]
        if isinstance(inner, list):
            return inner
        notes.append(f"{where}.{_WRAPPER_KEY} is not a list; ignored")
        return []

    if isinstance(doc, Mapping):
        if _WRAPPER_KEY in doc:
            notes.append(f"top level is an object, not a list around {_WRAPPER_KEY}")
            return unwrap(doc, "top level")
        if "activityId" in doc:
            notes.append("top level is a single activity object")
            return [doc]
        raise ExportFormatError(
            "not_garmin_summary",
            f"JSON object without {_WRAPPER_KEY} or activityId is not a Garmin activities "
            "summary; pass DI_CONNECT/DI-Connect-Fitness/*_summarizedActivities.json",
        )
    if not isinstance(doc, list):
        raise ExportFormatError(
            "not_garmin_summary",
            f"JSON {type(doc).__name__} is not a Garmin activities summary; pass "
            "DI_CONNECT/DI-Connect-Fitness/*_summarizedActivities.json",
        )
    entries: list[Any] = []
    bare = 0
    for i, item in enumerate(doc):
        if isinstance(item, Mapping) and _WRAPPER_KEY in item:
            entries.extend(unwrap(item, f"[{i}]"))
        else:
            entries.append(item)
            bare += 1
    if bare:
        notes.append(
            f"{bare} top-level entr(ies) not wrapped in {_WRAPPER_KEY}; read as activities"
        )
    return entries


def read_garmin_summaries(data: bytes, *, zone: tzinfo | None = None) -> SummaryFile:
    """Read a ``*_summarizedActivities.json``; ``zone`` converts a local-only start to UTC."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ExportFormatError(
            "not_json",
            f"Garmin summary is not JSON ({exc}); pass the *_summarizedActivities.json file "
            "from DI_CONNECT/DI-Connect-Fitness unchanged",
        ) from exc
    notes: list[str] = []
    summaries: list[ActivitySummary] = []
    for i, entry in enumerate(_garmin_entries(doc, notes)):
        one = _garmin_activity(entry, zone) if isinstance(entry, Mapping) else None
        if one is None:
            what = "not an object" if not isinstance(entry, Mapping) else "no activityId or start"
            notes.append(f"activity entry {i} skipped: {what}")
        else:
            summaries.append(one)
    return SummaryFile(ExportSource.GARMIN_SUMMARY, tuple(summaries), tuple(notes))


def parse_garmin_summaries(data: bytes, *, zone: tzinfo | None = None) -> list[ActivitySummary]:
    """The activities of a Garmin ``*_summarizedActivities.json`` (file notes: ``read_…``)."""
    return list(read_garmin_summaries(data, zone=zone).summaries)
