"""Planned workouts from FIT schedule (type 7) messages, already decoded, and dated workouts.

A schedule entry (``schedule`` message 28) points at a workout by the workout file's
``file_id.serial_number`` and ``time_created`` and gives the planned local date-time
(``scheduled_time``). ``plans_from_schedule`` joins the entries to the ``WorkoutDecision``s of
``pipeline.plans.fit.plan_from_workout``; ``plan_from_decision`` dates a single workout file.
Pure: decoded dicts in, plans out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from pipeline.plans.fit import WorkoutDecision
from pipeline.plans.model import (
    DEFAULT_ALL_DAY_HOUR,
    PlannedWorkout,
    PlanSource,
    local_start,
    plan_key,
)

WorkoutRef = tuple[int | None, datetime | None]
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def workout_ref(file_id: Mapping[str, Any]) -> WorkoutRef:
    """The key a schedule uses to point at a workout: its ``file_id`` serial and time."""
    serial = file_id.get("serial_number")
    return (int(serial) if isinstance(serial, int) else None, _utc(file_id.get("time_created")))


def _find(
    ref: WorkoutRef, workouts: Mapping[WorkoutRef, WorkoutDecision]
) -> WorkoutDecision | None:
    if ref in workouts:
        return workouts[ref]
    # A writer that leaves one of the two out: a match on the other (by serial, the workout
    # created last: an edited workout keeps its serial). Both present and no exact match means
    # the workout file has not been read (never a guess by serial alone).
    if ref[1] is None:
        serial = [(t, w) for (s, t), w in workouts.items() if s is not None and s == ref[0]]
        newest = max(serial, key=lambda tw: tw[0] or _EARLIEST, default=None)
        return newest[1] if newest is not None else None
    if ref[0] is None:
        same = [w for (_, t), w in workouts.items() if t is not None and t == ref[1]]
    else:
        return None
    return same[0] if len(same) == 1 else None


def plans_from_schedule(
    schedule_msgs: Sequence[Mapping[str, Any]],
    workouts_by_serial: Mapping[WorkoutRef, WorkoutDecision],
    tz: tzinfo,
    *,
    athlete_id: str = "default",
    all_day_hour: int = DEFAULT_ALL_DAY_HOUR,
    provenance: str = "",
    feed: str = "fit_schedule",
) -> list[PlannedWorkout]:
    """Plans of a schedule file: one per workout entry not yet completed.

    ``scheduled_time`` is a local date-time; at midnight it is a date (the watch calendar plans
    days), planned at ``all_day_hour`` and flagged ``all_day``. Entries for courses and entries
    marked ``completed`` are skipped (what was done is in the activities). An entry whose
    workout is unknown is kept as kind ``other`` with a reason that names the missing file.
    """
    out: list[PlannedWorkout] = []
    for msg in schedule_msgs:
        stype = msg.get("type")
        if stype in ("course", 1) or msg.get("completed") is True:
            continue
        when = msg.get("scheduled_time")
        if not isinstance(when, datetime | date):
            continue
        local: datetime | date = when
        if isinstance(when, datetime):
            naive = when.replace(tzinfo=None)
            local = naive.date() if naive.time() == time(0) else naive
        start_local, start_utc, all_day = local_start(local, tz, all_day_hour)
        ref: WorkoutRef = (
            int(msg["serial_number"]) if isinstance(msg.get("serial_number"), int) else None,
            _utc(msg.get("time_created")),
        )
        found = _find(ref, workouts_by_serial)
        created = ref[1].isoformat() if ref[1] else "?"
        if found is None:
            decision = WorkoutDecision(
                "Scheduled workout",
                "generic",
                "other",
                "unknown",
                f"unknown: the schedule points at workout serial {ref[0]} created {created}, "
                "which legday has not read; add that workout file too",
                None,
            )
        else:
            decision = found
        out.append(
            _planned(
                decision,
                athlete_id=athlete_id,
                key=plan_key(athlete_id, PlanSource.FIT_SCHEDULE, ref[0], created, local),
                start=(start_local, start_utc, all_day),
                source=PlanSource.FIT_SCHEDULE,
                feed=feed,
                provenance=(
                    f"{provenance + ', ' if provenance else ''}schedule entry for workout "
                    f"serial {ref[0]} created {created}"
                ),
            )
        )
    return sorted(out, key=lambda p: (p.start_utc, p.plan_key))


def plan_from_decision(
    decision: WorkoutDecision,
    athlete_id: str,
    when: datetime | date,
    tz: tzinfo,
    *,
    provenance: str,
    all_day_hour: int = DEFAULT_ALL_DAY_HOUR,
) -> PlannedWorkout:
    """A workout file given a date by a person (``legday plan add --workout FILE WHEN``)."""
    start = local_start(when, tz, all_day_hour)
    return _planned(
        decision,
        athlete_id=athlete_id,
        key=plan_key(athlete_id, PlanSource.FIT_WORKOUT, provenance, start[1].isoformat()),
        start=start,
        source=PlanSource.FIT_WORKOUT,
        feed="manual",
        provenance=provenance,
    )


def _planned(
    decision: WorkoutDecision,
    *,
    athlete_id: str,
    key: str,
    start: tuple[datetime, datetime, bool],
    source: PlanSource,
    feed: str,
    provenance: str,
) -> PlannedWorkout:
    """A plan of what a workout file says, at ``start`` (local, UTC, all day)."""
    start_local, start_utc, all_day = start
    return PlannedWorkout(
        athlete_id=athlete_id,
        plan_key=key,
        start_local=start_local,
        start_utc=start_utc,
        all_day=all_day,
        duration=decision.duration,
        sport=decision.sport,
        kind=decision.kind,
        intensity=decision.intensity,
        reason=decision.reason,
        title=decision.title,
        source=source,
        feed=feed,
        provenance=provenance,
    )
