"""Planned workouts: the typed contract every plan source produces, and what a new read does.

A ``PlannedWorkout`` is one session somebody intends to do: when (an aware local datetime in the
athlete's zone and the same instant in UTC), what (expected kind and intensity, each decision
with the words or numbers that made it), and where it came from (source, provenance, a stable
``plan_key``). The store keeps one row per ``(athlete_id, plan_key)``; ``replace_feed`` says
what a newly read file does to the plans already known, so that an event removed from a
calendar also disappears from future checks.

Sources: ``pipeline.plans.ics.read_ics`` (iCalendar), ``pipeline.plans.fit`` and
``pipeline.plans.schedule`` (FIT workout and schedule messages, already decoded), and
``manual_plan`` here (``legday plan add``). Free text is
classified by ``pipeline.plans.text``. Everything is pure: no clock, no file system.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

from pipeline.errors import LegdayError

Kind = Literal["run", "leg_strength", "strength", "other"]
Intensity = Literal["easy", "moderate", "hard", "unknown"]
KINDS: tuple[Kind, ...] = ("run", "leg_strength", "strength", "other")
INTENSITIES: tuple[Intensity, ...] = ("easy", "moderate", "hard", "unknown")

#: Local hour an all-day event (a date without a time) is planned at, unless the caller says.
DEFAULT_ALL_DAY_HOUR = 12
#: Planned duration assumed when the source gives none (all-day events, manual plans).
DEFAULT_DURATION = timedelta(hours=1)
#: How far ahead recurring events are expanded when the caller gives no window.
DEFAULT_EXPAND_DAYS = 28


class PlanSource(StrEnum):
    """Where a plan came from."""

    FIT_WORKOUT = "fit_workout"
    FIT_SCHEDULE = "fit_schedule"
    ICS = "ics"
    MANUAL = "manual"


class PlanFileError(LegdayError):
    """A plan file (calendar, workout, schedule) cannot be read."""


@dataclass(frozen=True)
class PlannedWorkout:
    """One planned session of one athlete.

    ``start_local`` is aware, in the athlete's zone (DST applied); ``start_utc`` is the same
    instant in UTC. ``all_day`` plans came without a time and sit at a default local hour.
    ``feed`` names the document the plan was read from (a calendar, the watch schedule, manual
    entries): a new read of a feed replaces every plan of that feed (``replace_feed``).
    """

    athlete_id: str
    plan_key: str
    start_local: datetime
    start_utc: datetime
    all_day: bool
    duration: timedelta | None
    sport: str
    kind: Kind
    intensity: Intensity
    reason: str
    title: str
    source: PlanSource
    feed: str
    provenance: str

    def __post_init__(self) -> None:
        if self.start_local.tzinfo is None or self.start_utc.tzinfo is None:
            raise ValueError("PlannedWorkout times must be tz-aware")
        # Timestamps, not ==: Python never calls an ambiguous local time (fold=1, the repeated
        # hour) equal to an instant in another zone (PEP 495).
        if self.start_local.timestamp() != self.start_utc.timestamp():
            raise ValueError("start_local and start_utc must be the same instant")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.intensity not in INTENSITIES:
            raise ValueError(f"unknown intensity {self.intensity!r}")

    @property
    def end_utc(self) -> datetime:
        return self.start_utc + (self.duration or DEFAULT_DURATION)

    @property
    def is_hard_run(self) -> bool:
        return self.kind == "run" and self.intensity == "hard"


def plan_key(*parts: object) -> str:
    """A short stable key from the identifying parts of a plan (source, UID, ...)."""
    text = "|".join(str(p) for p in parts)
    return "plan-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def local_start(
    value: datetime | date, tz: tzinfo, all_day_hour: int = DEFAULT_ALL_DAY_HOUR
) -> tuple[datetime, datetime, bool]:
    """``(start_local, start_utc, all_day)`` of a date, a floating or an aware datetime.

    A floating (naive) time is a wall-clock time in ``tz``; a wall-clock time that does not
    exist (spring forward) moves forward by the gap, an ambiguous one takes the first
    occurrence (fold 0), as RFC 5545 section 3.3.5 asks.
    """
    all_day = not isinstance(value, datetime)
    if isinstance(value, datetime):
        local = value.replace(tzinfo=tz) if value.tzinfo is None else value
    else:
        local = datetime.combine(value, time(all_day_hour), tzinfo=tz)
    start_utc = local.astimezone(UTC)
    return start_utc.astimezone(tz), start_utc, all_day


def manual_plan(
    athlete_id: str,
    when: datetime | date,
    kind: Kind,
    tz: tzinfo,
    *,
    intensity: Intensity = "unknown",
    title: str | None = None,
    duration: timedelta | None = None,
    all_day_hour: int = DEFAULT_ALL_DAY_HOUR,
) -> PlannedWorkout:
    """A plan typed in by a person (``legday plan add WHEN KIND``); key = kind + local start."""
    start_local, start_utc, all_day = local_start(when, tz, all_day_hour)
    label = title or kind.replace("_", " ")
    return PlannedWorkout(
        athlete_id=athlete_id,
        plan_key=plan_key(athlete_id, PlanSource.MANUAL, kind, start_utc.isoformat()),
        start_local=start_local,
        start_utc=start_utc,
        all_day=all_day,
        duration=duration,
        sport={"run": "running", "other": "other"}.get(kind, "training"),
        kind=kind,
        intensity=intensity,
        reason=f"{kind} ({intensity}): entered by you",
        title=label,
        source=PlanSource.MANUAL,
        feed="manual",
        provenance=f"manual entry for {start_local:%Y-%m-%d %H:%M %Z}",
    )


def replace_feed(
    existing: Iterable[PlannedWorkout], incoming: Sequence[PlannedWorkout], feed: str
) -> list[PlannedWorkout]:
    """The plans after a new read of ``feed``: that feed's old plans go, ``incoming`` comes in.

    Other feeds' plans stay, except where ``incoming`` carries the same ``plan_key`` (the same
    plan arriving again through another door replaces the old row). A plan removed from the
    feed is therefore gone, and so are the conflicts it caused.
    """
    keys = {(p.athlete_id, p.plan_key) for p in incoming}
    kept = [p for p in existing if p.feed != feed and (p.athlete_id, p.plan_key) not in keys]
    return sorted([*kept, *incoming], key=lambda p: (p.start_utc, p.plan_key))


def with_times(plan: PlannedWorkout, start_utc: datetime, tz: tzinfo) -> PlannedWorkout:
    """The same plan at another instant (used to test a suggested move or swap)."""
    return replace(plan, start_utc=start_utc, start_local=start_utc.astimezone(tz))
