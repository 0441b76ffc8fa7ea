"""Read planned workouts from an iCalendar (.ics) file with the ``icalendar`` package.

TrainingPeaks (premium ICS feed), Google Calendar and most calendar apps export RFC 5545 files.
Timed events (UTC, TZID or floating), all-day events, cancelled events and simple recurrences are
handled as ``read_ics`` documents; the text of each event is classified by
``pipeline.plans.text.classify_text``. Pure: bytes in, plans out; the caller passes the
window over which recurring events are expanded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from pipeline.plans.model import (
    DEFAULT_ALL_DAY_HOUR,
    DEFAULT_EXPAND_DAYS,
    PlanFileError,
    PlannedWorkout,
    PlanSource,
    local_start,
    plan_key,
)
from pipeline.plans.text import classify_text


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    return str(value) if value is not None else ""


def _dt(prop: Any) -> datetime | date | None:
    """The date or date-time of a property; ValueError for anything else (a time, a period)."""
    if prop is None:
        return None
    value = getattr(prop, "dt", None)
    if not isinstance(value, datetime | date):
        raise ValueError(f"{prop.to_ical()[:40]!r} is not a date or a date-time")
    return value


def _exdates(event: Any) -> set[datetime | date]:
    raw = event.get("EXDATE")
    if raw is None:
        return set()
    lists = raw if isinstance(raw, list) else [raw]
    out: set[datetime | date] = set()
    for item in lists:
        for d in getattr(item, "dts", []):
            out.add(d.dt)
    return out


def _same_instant(a: datetime | date, b: datetime | date, tz: tzinfo) -> bool:
    if isinstance(a, datetime) != isinstance(b, datetime):
        return False
    if isinstance(a, datetime) and isinstance(b, datetime):
        aa = a if a.tzinfo else a.replace(tzinfo=tz)
        bb = b if b.tzinfo else b.replace(tzinfo=tz)
        return aa == bb
    return a == b


def _occurrences(
    event: Any,
    start: datetime | date,
    window: tuple[datetime, datetime],
    tz: tzinfo,
    overridden: list[datetime | date],
) -> list[datetime | date]:
    """Starts of a recurring event inside ``window`` (RRULE + RDATE - EXDATE - overrides)."""
    from dateutil.rrule import rrulestr  # type: ignore[import-untyped]  # icalendar's dependency

    lo, hi = window
    rule_text = event["RRULE"].to_ical().decode()
    anchor = start if isinstance(start, datetime) else datetime.combine(start, time(0))
    try:
        rule = rrulestr(rule_text, dtstart=anchor, ignoretz=False)
    except (ValueError, TypeError) as exc:
        raise PlanFileError(
            f"calendar event {_text(event, 'UID') or _text(event, 'SUMMARY')!r} has an RRULE "
            f"this reader cannot expand ({rule_text}): {exc}; expand it in the calendar app "
            "or export single events"
        ) from exc
    excluded = _exdates(event)
    out: list[datetime | date] = []
    for occ in rule:
        value: datetime | date = occ if isinstance(start, datetime) else occ.date()
        utc = local_start(value, tz)[1]
        if utc >= hi:
            break
        if len(out) > 1000:
            break
        if utc < lo:
            continue
        if any(_same_instant(value, x, tz) for x in excluded):
            continue
        if any(_same_instant(value, x, tz) for x in overridden):
            continue
        out.append(value)
    return out


@dataclass(frozen=True)
class IcsRead:
    """Plans of a calendar, and the events that could not be read (one line each, why)."""

    plans: list[PlannedWorkout]
    skipped: list[str]
    feed: str


#: What icalendar and dateutil raise on a malformed property (BrokenCalendarProperty is a
#: ValueError).
_EVENT_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    OSError,
)


def read_ics(
    data: bytes,
    athlete_tz: tzinfo,
    *,
    athlete_id: str = "default",
    feed: str | None = None,
    all_day_hour: int = DEFAULT_ALL_DAY_HOUR,
    expand_from: datetime | None = None,
    expand_days: int = DEFAULT_EXPAND_DAYS,
    provenance: str = "",
    strict: bool = True,
) -> list[PlannedWorkout]:
    """Planned workouts of an iCalendar file, sorted by start (see ``read_ics_report``).

    With ``strict`` (the default) an event that cannot be read raises ``PlanFileError`` naming
    it, rather than being left out unseen; ``strict=False`` drops such events (use
    ``read_ics_report`` to show them).
    """
    read = read_ics_report(
        data,
        athlete_tz,
        athlete_id=athlete_id,
        feed=feed,
        all_day_hour=all_day_hour,
        expand_from=expand_from,
        expand_days=expand_days,
        provenance=provenance,
    )
    if strict and read.skipped:
        more = f" (and {len(read.skipped) - 1} more)" if len(read.skipped) > 1 else ""
        raise PlanFileError(
            f"calendar {read.feed!r}: {read.skipped[0]}{more}; fix or delete the event in the "
            "calendar app and export again"
        )
    return read.plans


def read_ics_report(
    data: bytes,
    athlete_tz: tzinfo,
    *,
    athlete_id: str = "default",
    feed: str | None = None,
    all_day_hour: int = DEFAULT_ALL_DAY_HOUR,
    expand_from: datetime | None = None,
    expand_days: int = DEFAULT_EXPAND_DAYS,
    provenance: str = "",
) -> IcsRead:
    """Planned workouts of an iCalendar file, and the events skipped with the reason.

    * timed events in UTC, with a TZID, or floating (read as the athlete's wall clock);
    * all-day events (``DTSTART;VALUE=DATE``) at ``all_day_hour`` local, flagged ``all_day``;
    * ``STATUS:CANCELLED`` events are dropped (and so are cancelled single instances);
    * recurring events (RRULE, RDATE is not read, EXDATE, RECURRENCE-ID overrides) are expanded
      from ``expand_from`` for ``expand_days`` days. Pass ``expand_from`` (the check's
      ``as_of``): the default, each event's own start, misses today's instances of a series
      that began long ago;
    * the ``plan_key`` is the UID (plus the instance start for recurring events), so a moved
      event keeps its key; events without a UID are keyed by title and start.

    ``feed`` names the calendar for ``replace_feed`` (default: its X-WR-CALNAME, else PRODID).
    Raises ``PlanFileError`` for bytes that are not a calendar.
    """
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, OSError) as exc:
        # icalendar raises assorted errors on malformed input (an unknown TZID reaches the
        # zoneinfo loader as a path, OSError).
        raise PlanFileError(
            f"not an iCalendar file ({' '.join(str(exc).split())[:120]}); export the calendar as .ics and try again"
        ) from exc
    if getattr(cal, "name", "") != "VCALENDAR":
        raise PlanFileError("not an iCalendar file (no VCALENDAR); export the calendar as .ics")
    feed_name = (feed or _text(cal, "X-WR-CALNAME") or _text(cal, "PRODID") or "calendar").strip()
    ctx = _Context(
        athlete_id=athlete_id,
        tz=athlete_tz,
        all_day_hour=all_day_hour,
        expand_from=expand_from,
        expand_days=expand_days,
        feed=feed_name,
        provenance=f"{provenance + ', ' if provenance else ''}ics sha256 "
        + hashlib.sha256(data).hexdigest()[:12],
        overrides={},
    )
    events = list(cal.walk("VEVENT"))
    skipped: list[str] = []
    for ev in events:
        try:
            rid = _dt(ev.get("RECURRENCE-ID"))
        except _EVENT_ERRORS:
            continue  # reported below when the event itself is read
        if rid is not None:
            ctx.overrides.setdefault(_text(ev, "UID"), []).append(rid)
    plans: list[PlannedWorkout] = []
    for ev in events:
        try:
            plans.extend(_event_plans(ev, ctx))
        except _EVENT_ERRORS as exc:
            name = _text(ev, "UID") or _text(ev, "SUMMARY") or "without UID or title"
            skipped.append(f"event {name!r} cannot be read: {' '.join(str(exc).split())[:160]}")
    return IcsRead(sorted(plans, key=lambda p: (p.start_utc, p.plan_key)), skipped, feed_name)


@dataclass(frozen=True)
class _Context:
    athlete_id: str
    tz: tzinfo
    all_day_hour: int
    expand_from: datetime | None
    expand_days: int
    feed: str
    provenance: str
    overrides: dict[str, list[datetime | date]]


def _event_plans(ev: Any, ctx: _Context) -> list[PlannedWorkout]:
    if _text(ev, "STATUS").upper() == "CANCELLED":
        return []
    start = _dt(ev.get("DTSTART"))
    if start is None:
        raise ValueError("no DTSTART")
    tz = ctx.tz
    uid = _text(ev, "UID")
    summary = _text(ev, "SUMMARY").strip()
    description = _text(ev, "DESCRIPTION")
    end = _dt(ev.get("DTEND"))
    duration: timedelta | None = None
    if isinstance(start, datetime) and isinstance(end, datetime):
        duration = (end if end.tzinfo else end.replace(tzinfo=tz)) - (
            start if start.tzinfo else start.replace(tzinfo=tz)
        )
    elif isinstance(start, datetime):
        given = getattr(ev.get("DURATION"), "dt", None)
        duration = given if isinstance(given, timedelta) else None
    if duration is not None and duration <= timedelta(0):
        duration = None
    starts: list[tuple[datetime | date, str]]
    rid = _dt(ev.get("RECURRENCE-ID"))
    if ev.get("RRULE") is not None and rid is None:
        s_utc = local_start(start, tz, ctx.all_day_hour)[1]
        lo = ctx.expand_from.astimezone(UTC) if ctx.expand_from is not None else s_utc
        window = (lo, lo + timedelta(days=ctx.expand_days))
        occ = _occurrences(ev, start, window, tz, ctx.overrides.get(uid, []))
        starts = [(o, o.isoformat()) for o in occ]
    else:
        starts = [(start, rid.isoformat() if rid is not None else "")]
    cls = classify_text(summary, description)
    out: list[PlannedWorkout] = []
    for value, instance in starts:
        start_local, start_utc, all_day = local_start(value, tz, ctx.all_day_hour)
        key = (
            plan_key(ctx.athlete_id, PlanSource.ICS, uid, instance)
            if uid
            else plan_key(ctx.athlete_id, PlanSource.ICS, summary, start_utc.isoformat())
        )
        out.append(
            PlannedWorkout(
                athlete_id=ctx.athlete_id,
                plan_key=key,
                start_local=start_local,
                start_utc=start_utc,
                all_day=all_day,
                duration=None if all_day else duration,
                sport=cls.sport,
                kind=cls.kind,
                intensity=cls.intensity,
                reason=cls.reason,
                title=summary or "(untitled event)",
                source=PlanSource.ICS,
                feed=ctx.feed,
                provenance=(
                    f"{ctx.provenance}{', UID ' + uid if uid else ''}"
                    f"{', instance ' + instance if instance else ''}"
                ),
            )
        )
    return out
