"""Planned workouts against the store: import, add, list, remove, and the "coming up" check.

The composition root of issue 13's library half. Each function takes an open ``Store``, the
``Settings`` and the instant ``now``/``as_of`` from its caller (the CLI, a flow) and does the
I/O through ``pipeline.store.plans_sql``; the decisions are the pure modules' (``ics``, ``fit``,
``schedule``, ``check``). Reading a plan file's bytes is the caller's job too: ``import_ics``
takes bytes and a name.

FIT workout and schedule files reach this module already decoded: ``import_fit_messages``
takes one ``DecodedPlanFile`` per file (the message dicts fitparse's ``get_values()`` gives),
so the one module that imports fitparse (``pipeline.fit``) stays the only decoder. Ingest keeps
each such file in ``plan_files`` (``plans_sql.save_plan_file``); ``rebuild_fit_plans`` makes the
athlete's ``fit_schedule`` plans from all of them, so the files may come in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pipeline.config import Settings
from pipeline.derive import fatigue_service
from pipeline.derive.metrics import resolve_hr_profile
from pipeline.derive.refresh import session_frame
from pipeline.fit.schemas import DecodedPlanFile  # made by the parser; still importable here
from pipeline.plans import check as ck
from pipeline.plans.check_fatigue import FatigueInput
from pipeline.plans.fit import PlanZones, WorkoutDecision, plan_from_workout
from pipeline.plans.ics import read_ics, read_ics_report
from pipeline.plans.model import (
    INTENSITIES,
    KINDS,
    Intensity,
    Kind,
    PlanFileError,
    PlannedWorkout,
    manual_plan,
)
from pipeline.plans.schedule import WorkoutRef, plans_from_schedule, workout_ref
from pipeline.store import plans_sql as ps
from pipeline.store.db import Store
from pipeline.store.derive_sql import observed_max_hr

#: Feed of the plans read from FIT schedule files (the watch's calendar is one document).
FIT_SCHEDULE_FEED = "fit_schedule"
#: How far ahead recurring calendar events are expanded on import.
ICS_EXPAND_DAYS = 28


@dataclass(frozen=True)
class ImportResult:
    """What reading a plan document changed in the store."""

    change: ps.FeedChange
    plans: list[PlannedWorkout]
    notes: list[str] = field(default_factory=list)


def plan_zones(store: Store, settings: Settings, athlete_id: str, now: datetime) -> PlanZones:
    """The athlete's heart-rate anchors, resolved as the daily refresh resolves them."""
    athlete = settings.athlete(athlete_id)
    observed = None if athlete.max_hr else observed_max_hr(store, athlete_id, now)
    profile = resolve_hr_profile(athlete, observed, now.date())
    return PlanZones(profile, athlete.intensity.zone_model)


def import_ics(
    store: Store,
    settings: Settings,
    athlete_id: str,
    data: bytes,
    name: str,
    now: datetime,
    *,
    feed: str | None = None,
) -> ImportResult:
    """Read a calendar and replace everything that calendar gave before.

    Strict: an event that cannot be read raises ``PlanFileError`` naming it, and nothing is
    changed (so a bad export never wipes the plans a good one stored).
    """
    tz = settings.athlete(athlete_id).tz
    plans = read_ics(
        data,
        tz,
        athlete_id=athlete_id,
        feed=feed,
        all_day_hour=settings.plans.all_day_hour,
        expand_from=now,
        expand_days=ICS_EXPAND_DAYS,
        provenance=name,
    )
    feed_name = plans[0].feed if plans else (feed or _calendar_name(data, name))
    change = ps.save_feed(store, athlete_id, feed_name, plans, now)
    return ImportResult(change, plans)


def _calendar_name(data: bytes, name: str) -> str:
    """The feed of an empty calendar, as ``read_ics`` would name it (so its old plans go)."""
    # Only the feed name is used; no plan is dated, so the zone does not matter.
    return read_ics_report(data, UTC).feed or name


def decide_workouts(
    files: Sequence[DecodedPlanFile], zones: PlanZones, settings: Settings, athlete_id: str
) -> dict[WorkoutRef, WorkoutDecision]:
    """What each workout file plans, keyed as a schedule entry points at it."""
    athlete = settings.athlete(athlete_id)
    out: dict[WorkoutRef, WorkoutDecision] = {}
    for f in files:
        if f.workout is None:
            continue
        out[workout_ref(f.file_id)] = plan_from_workout(
            f.workout, f.workout_steps, zones, athlete.intensity, athlete.classification
        )
    return out


def import_fit_messages(
    store: Store,
    settings: Settings,
    athlete_id: str,
    files: Sequence[DecodedPlanFile],
    now: datetime,
) -> ImportResult:
    """Workout and schedule files decoded together: the schedule's entries become plans.

    The entries of every schedule file given replace the feed ``fit_schedule`` (the watch keeps
    one calendar; a schedule file with no entries empties it). A workout file without a schedule
    entry has no date and plans nothing yet (``legday plan add WHEN --workout FILE`` dates one);
    it is named in ``notes``, and the stored plans stay as they are.
    """
    zones = plan_zones(store, settings, athlete_id, now)
    decisions = decide_workouts(files, zones, settings, athlete_id)
    schedules = [m for f in files for m in f.schedules]
    notes: list[str] = []
    if not any(f.schedules or f.file_id.get("type") == "schedules" for f in files):
        names = ", ".join(f.name for f in files if f.workout is not None) or "none"
        notes.append(
            f"no schedule entries in these files (workouts: {names}); nothing dated to plan: "
            "add the schedule file too, or date a workout with legday plan add"
        )
        return ImportResult(ps.FeedChange(FIT_SCHEDULE_FEED, 0, 0, 0), [], notes)
    plans = plans_from_schedule(
        schedules,
        decisions,
        settings.athlete(athlete_id).tz,
        athlete_id=athlete_id,
        all_day_hour=settings.plans.all_day_hour,
        provenance=", ".join(f.name for f in files if f.schedules),
        feed=FIT_SCHEDULE_FEED,
    )
    notes += [p.reason for p in plans if p.kind == "other" and "has not read" in p.reason]
    change = ps.save_feed(store, athlete_id, FIT_SCHEDULE_FEED, plans, now)
    return ImportResult(change, plans, notes)


def rebuild_fit_plans(
    store: Store, settings: Settings, athlete_id: str, now: datetime
) -> ImportResult:
    """The athlete's ``fit_schedule`` plans made again from every stored workout and schedule file.

    Ingest stores each workout/schedule FIT file in ``plan_files``; this joins them, so the
    files may arrive in either order or in different runs. Which count:

    * schedules: the one schedule file with the newest ``file_id.time_created`` (then the one
      stored last). A watch keeps one calendar and Garmin Connect writes it whole each time, so
      an entry missing from the newest file was removed, and its plan goes;
    * workouts: every workout file, keyed as schedule entries point at them (serial and
      ``time_created``); of the same workout stored twice the newest by ``time_created`` (then
      the one stored last) wins.

    With no schedule file stored nothing is planned (a workout alone has no date) and the
    stored plans stay; ``notes`` says so.
    """
    stored = ps.load_plan_files(store, athlete_id)  # oldest first: later ones win below
    workouts = [f.decoded for f in stored if f.file_type == "workout"]
    schedules = [f.decoded for f in stored if f.file_type == "schedules"]
    return import_fit_messages(store, settings, athlete_id, [*workouts, *schedules[-1:]], now)


def parse_when(text: str, today: date) -> datetime | date:
    """``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM`` (or ``T``), ``today``/``tomorrow`` [``HH:MM``].

    A date alone is an all-day plan; a time is the athlete's wall clock.
    """
    words = text.strip().replace("T", " ", 1).split()
    day_word = words[0].lower() if words else ""
    try:
        if day_word in ("today", "tomorrow"):
            day = today + timedelta(days=day_word == "tomorrow")
        else:
            day = date.fromisoformat(day_word)
        if len(words) == 1:
            return day
        if len(words) == 2:
            return datetime.combine(day, time.fromisoformat(words[1]))
    except ValueError:
        pass
    raise PlanFileError(
        f"cannot read the time {text!r}: write 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM' or "
        "'tomorrow 07:30' (local time of the athlete)"
    )


def add_manual(
    store: Store,
    settings: Settings,
    athlete_id: str,
    when: datetime | date,
    kind: str,
    now: datetime,
    *,
    intensity: str | None = None,
    title: str | None = None,
) -> tuple[PlannedWorkout, bool]:
    """Store a plan typed in by a person; returns it and whether it replaced the same plan."""
    if kind not in KINDS:
        raise PlanFileError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    level = intensity or ("unknown" if kind == "run" else "moderate")
    if level not in INTENSITIES:
        raise PlanFileError(
            f"unknown intensity {level!r}: use one of {', '.join(INTENSITIES)} "
            "(hard for a leg day makes it heavy)"
        )
    kind_: Kind = kind  # narrowed by the check against KINDS above
    level_: Intensity = level  # narrowed by the check against INTENSITIES
    plan = manual_plan(
        athlete_id,
        when,
        kind_,
        settings.athlete(athlete_id).tz,
        intensity=level_,
        title=title,
        all_day_hour=settings.plans.all_day_hour,
    )
    return plan, ps.save_plan(store, plan, now)


def list_plans(
    store: Store, athlete_id: str, *, since: datetime | None = None
) -> list[PlannedWorkout]:
    return ps.load_plans(store, athlete_id, since=since)


def remove_plan(store: Store, athlete_id: str, key: str) -> PlannedWorkout:
    """Remove the plan whose key is ``key`` or starts with it (unique), and its conflicts."""
    found = ps.load_plans(store, athlete_id, key_prefix=key)
    if len(found) != 1:
        raise PlanFileError(
            f"no plan of {athlete_id!r} has a key starting with {key!r}; see legday plan list"
            if not found
            else f"{len(found)} plans have keys starting with {key!r}; give more characters"
        )
    ps.delete_plan(store, athlete_id, found[0].plan_key)
    return found[0]


def check(
    store: Store,
    settings: Settings,
    athlete_id: str,
    as_of: datetime,
    *,
    horizon_days: int | None = None,
) -> list[ck.Conflict]:
    """Conflicts of the next days' planned runs, stored in ``plan_conflicts`` and returned.

    The completed sessions are read exactly as the daily refresh reads them for its flags
    (``session_frame`` over the longest rule window plus the unaccustomed span), so the
    planned check and the report apply the same rules to the same history; under
    ``recovery.model = "fatigue"`` the doses of every set done (``compute_doses``) go with them.
    """
    athlete = settings.athlete(athlete_id)
    r = athlete.recovery
    days = athlete.classification.unaccustomed_days
    window_h = max(r.alert_hours, r.warning_hours, r.heavy_warning_hours, r.info_hours)
    lookback = as_of - timedelta(hours=window_h) - timedelta(days=days + 1)
    sessions = session_frame(store, athlete_id, since=lookback, until=as_of)
    # Planned leg sessions up to a day before as_of still count (the watch may not have synced).
    since = as_of - timedelta(hours=ck.DEFAULT_LEG_LOOKBACK_HOURS)
    plans = ps.load_plans(store, athlete_id, since=since)
    fatigue = None
    if r.model == "fatigue":  # the report's flags come from the curve: so do the plans'
        cfg = fatigue_service.fatigue_settings(athlete)
        fatigue = FatigueInput(fatigue_service.compute_doses(store, athlete_id, cfg), cfg)
    conflicts = ck.check_plans(
        plans,
        sessions,
        as_of,
        r,
        days,
        athlete.tz,
        horizon_days=settings.plans.horizon_days if horizon_days is None else horizon_days,
        fatigue=fatigue,
    )
    ps.replace_conflicts(store, athlete_id, conflicts, as_of, as_of)
    return conflicts


#: Recovery flags of completed runs this recent are notified (older ones were news before).
FLAG_NOTICE_HOURS = 48.0


@dataclass(frozen=True)
class CheckRun:
    """One check-and-notify pass for one athlete: what was found and what was delivered."""

    athlete_id: str
    conflicts: list[ck.Conflict]
    flags: int
    deliveries: list[Any]  # pipeline.plans.deliver.Delivery


def check_and_notify(store: Store, settings: Settings, athlete_id: str, now: datetime) -> CheckRun:
    """The evening check (and the nightly run's): check the plans, notify what is new.

    New conflicts and new alert/warning flags of runs in the last ``FLAG_NOTICE_HOURS`` go out
    once per channel; a failed delivery is in ``deliveries`` (and logged) and is tried again on
    the next pass. Notifications off (no ``notify_urls``): nothing is sent.
    """
    from pipeline.plans import deliver
    from pipeline.plans.notify import Finding, flag_findings

    conflicts = check(store, settings, athlete_id, now)
    flags = flag_findings(
        ps.recent_flags(store, athlete_id, since=now - timedelta(hours=FLAG_NOTICE_HOURS))
    )
    findings: list[Finding] = [*conflicts, *flags]
    sent = deliver.notify_new(store, settings, findings, now, athlete=athlete_id)
    return CheckRun(athlete_id, conflicts, len(flags), list(sent))


def evening_check(settings: Settings, athlete_id: str, now: datetime) -> CheckRun:
    """``check_and_notify`` on the configured store (a writer session of its own, short)."""
    from pipeline.store.db import open_store

    with open_store(settings.db_path, timeout_s=600) as store:
        store.migrate(now)
        return check_and_notify(store, settings, athlete_id, now)
