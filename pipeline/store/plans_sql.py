"""SQL of planned workouts, plan conflicts, sent notifications and plan files (0004, 0008). I/O.

Every statement on ``planned_workouts``, ``plan_conflicts``, ``notifications_sent`` and
``plan_files`` (FIT workout and schedule files, decoded) lives here, beside the connection (``pipeline.store.db``). Functions take an open ``Store`` and typed
values (``PlannedWorkout``, ``Conflict``), never a dict read by key. Writes that must be all or
nothing (a calendar read again, the conflicts of one check) run in one transaction here; the
caller must not hold one already.

A plan's local start is stored as the athlete's wall clock plus its zone, so it reads back as
the same aware datetime (a repeated hour in autumn keeps its fold through ``start_utc``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from pipeline.fit.schemas import DecodedPlanFile, plan_from_json, plan_to_json
from pipeline.plans.check import Conflict
from pipeline.plans.model import PlannedWorkout, PlanSource
from pipeline.store.db import Store

_PLAN_COLUMNS = (
    "athlete_id, plan_key, feed, source, provenance, start_local, time_zone, start_utc, "
    "all_day, duration_s, sport, kind, intensity, reason, title"
)
_CONFLICT_COLUMNS = (
    "athlete_id, finding_key, run_plan_key, run_title, run_start_utc, run_all_day, "
    "leg_session_id, leg_title, leg_planned, leg_end_utc, hours_between, severity, rule, "
    "threshold_hours, evidence, legs_ready_utc, move_to_utc, swap_plan_key, suggestion, "
    "message, computed_utc"
)


@dataclass(frozen=True)
class FeedChange:
    """What saving a feed did: plans new to the store, plans read again, plans gone."""

    feed: str
    added: int
    kept: int
    removed: int


# -- generic helpers ------------------------------------------------------------------------


def _zone_name(tz: tzinfo | None, at: datetime) -> str:
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    offset = at.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _zone(name: str) -> tzinfo:
    if name[:1] in "+-" and len(name) == 6:
        sign = -1 if name[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC  # a zone this machine lacks: the instant stays right, shown in UTC


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in_list(values: Sequence[str]) -> str:
    return "(SELECT unnest(?::VARCHAR[]))" if values else "(SELECT NULL::VARCHAR WHERE false)"


# -- planned workouts -----------------------------------------------------------------------


def _plan_params(p: PlannedWorkout, now: datetime) -> list[Any]:
    return [
        p.athlete_id,
        p.plan_key,
        p.feed,
        str(p.source),
        p.provenance,
        p.start_local.replace(tzinfo=None),
        _zone_name(p.start_local.tzinfo, p.start_local),
        p.start_utc,
        p.all_day,
        p.duration.total_seconds() if p.duration is not None else None,
        p.sport,
        p.kind,
        p.intensity,
        p.reason,
        p.title,
        now,
    ]


def _plan(row: Sequence[Any]) -> PlannedWorkout:
    (athlete_id, key, feed, source, provenance, _local, zone, start_utc, all_day, dur_s) = row[:10]
    sport, kind, intensity, reason, title = row[10:15]
    start = _utc(start_utc)
    return PlannedWorkout(
        athlete_id=athlete_id,
        plan_key=key,
        # From the instant, not the stored wall clock: an ambiguous hour keeps its fold.
        start_local=start.astimezone(_zone(zone)),
        start_utc=start,
        all_day=bool(all_day),
        duration=timedelta(seconds=dur_s) if dur_s is not None else None,
        sport=sport,
        kind=kind,
        intensity=intensity,
        reason=reason,
        title=title,
        source=PlanSource(source),
        feed=feed,
        provenance=provenance,
    )


def _insert_plans(store: Store, plans: Sequence[PlannedWorkout], now: datetime) -> None:
    if plans:
        store.con.executemany(
            f"INSERT INTO planned_workouts ({_PLAN_COLUMNS}, stored_utc) "
            f"VALUES ({', '.join('?' * 16)})",
            [_plan_params(p, now) for p in plans],
        )


def save_feed(
    store: Store, athlete_id: str, feed: str, plans: Sequence[PlannedWorkout], now: datetime
) -> FeedChange:
    """A new read of ``feed`` replaces all its plans (``pipeline.plans.model.replace_feed``).

    One transaction: the feed's old plans and any plan with an incoming key go, the incoming
    plans come in. A plan removed from the calendar is therefore gone from future checks, and
    the stored conflicts it was part of go with it.
    """
    plans = list({p.plan_key: p for p in plans if p.athlete_id == athlete_id}.values())
    keys = [p.plan_key for p in plans]
    with store.transaction():
        old = {
            r[0]
            for r in store.rows(
                "SELECT plan_key FROM planned_workouts WHERE athlete_id = ? AND feed = ?",
                [athlete_id, feed],
            )
        }
        store.con.execute(
            "DELETE FROM planned_workouts WHERE athlete_id = ? AND (feed = ? OR plan_key IN "
            f"{_in_list(keys)})",
            [athlete_id, feed, *([keys] if keys else [])],
        )
        _insert_plans(store, plans, now)
        gone = sorted(old - set(keys))
        if gone:
            store.con.execute(
                "DELETE FROM plan_conflicts WHERE athlete_id = ? AND (run_plan_key IN "
                f"{_in_list(gone)} OR leg_session_id IN (SELECT 'plan:' || unnest(?::VARCHAR[])))",
                [athlete_id, gone, gone],
            )
    kept = len(old & set(keys))
    return FeedChange(feed, len(keys) - kept, kept, len(old - set(keys)))


def save_plan(store: Store, plan: PlannedWorkout, now: datetime) -> bool:
    """Store one plan (a manual entry); returns True when it replaced one with the same key."""
    with store.transaction():
        existed = bool(
            store.scalar(
                "SELECT count(*) FROM planned_workouts WHERE athlete_id = ? AND plan_key = ?",
                [plan.athlete_id, plan.plan_key],
            )
        )
        store.con.execute(
            "DELETE FROM planned_workouts WHERE athlete_id = ? AND plan_key = ?",
            [plan.athlete_id, plan.plan_key],
        )
        _insert_plans(store, [plan], now)
    return existed


def load_plans(
    store: Store,
    athlete_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    key_prefix: str | None = None,
) -> list[PlannedWorkout]:
    """An athlete's plans starting in ``[since, until)``, by start."""
    sql = f"SELECT {_PLAN_COLUMNS} FROM planned_workouts WHERE athlete_id = ?"
    params: list[Any] = [athlete_id]
    if since is not None:
        sql += " AND start_utc >= ?"
        params.append(since)
    if until is not None:
        sql += " AND start_utc < ?"
        params.append(until)
    if key_prefix is not None:
        sql += " AND starts_with(plan_key, ?)"
        params.append(key_prefix)
    return [_plan(r) for r in store.rows(sql + " ORDER BY start_utc, plan_key", params)]


def delete_plan(store: Store, athlete_id: str, plan_key: str) -> int:
    """Remove one plan and the stored conflicts it was part of; returns plans removed."""
    with store.transaction():
        n = int(
            store.scalar(
                "SELECT count(*) FROM planned_workouts WHERE athlete_id = ? AND plan_key = ?",
                [athlete_id, plan_key],
            )
        )
        store.con.execute(
            "DELETE FROM planned_workouts WHERE athlete_id = ? AND plan_key = ?",
            [athlete_id, plan_key],
        )
        store.con.execute(
            "DELETE FROM plan_conflicts WHERE athlete_id = ? AND (run_plan_key = ? "
            "OR leg_session_id = 'plan:' || ?)",
            [athlete_id, plan_key, plan_key],
        )
    return n


# -- conflicts ------------------------------------------------------------------------------


def _conflict_params(c: Conflict, now: datetime) -> list[Any]:
    return [
        c.athlete_id,
        c.finding_key,
        c.run.plan_key,
        c.run.title,
        c.run.start_utc,
        c.run.all_day,
        c.leg.session_id,
        c.leg.title,
        c.leg.planned,
        c.leg.end_utc,
        c.hours_between,
        c.severity,
        c.rule,
        c.threshold_hours,
        c.evidence,
        c.legs_ready_utc,
        c.move_to_utc,
        c.swap_with.plan_key if c.swap_with is not None else None,
        c.suggestion,
        c.message,
        now,
    ]


def replace_conflicts(
    store: Store, athlete_id: str, conflicts: Sequence[Conflict], as_of: datetime, now: datetime
) -> None:
    """The conflicts of planned runs from ``as_of`` on are exactly ``conflicts`` (one transaction).

    Conflicts of runs before ``as_of`` stay as the record of what was said; later ones that the
    check no longer finds (a plan moved, removed, a leg day done earlier) are gone.
    """
    rows = [_conflict_params(c, now) for c in conflicts if c.athlete_id == athlete_id]
    with store.transaction():
        store.con.execute(
            "DELETE FROM plan_conflicts WHERE athlete_id = ? AND run_start_utc >= ?",
            [athlete_id, as_of],
        )
        if rows:
            store.con.executemany(
                f"INSERT OR REPLACE INTO plan_conflicts ({_CONFLICT_COLUMNS}) "
                f"VALUES ({', '.join('?' * 21)})",
                rows,
            )


def conflicts_frame(store: Store, athlete_id: str, *, since: datetime) -> pl.DataFrame:
    """Stored conflicts of planned runs from ``since`` on (for a report's "Coming up")."""
    return store.frame(
        f"SELECT {_CONFLICT_COLUMNS} FROM plan_conflicts WHERE athlete_id = ? "
        "AND run_start_utc >= ? ORDER BY run_start_utc, finding_key",
        [athlete_id, since],
    )


# -- notifications --------------------------------------------------------------------------


def sent_keys(store: Store, channel: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` were delivered on ``channel`` already."""
    if not keys:
        return set()
    return {
        r[0]
        for r in store.rows(
            "SELECT finding_key FROM notifications_sent WHERE channel = ? AND finding_key IN "
            f"{_in_list(keys)}",
            [channel, list(keys)],
        )
    }


def record_sent(store: Store, channel: str, keys: Sequence[str], now: datetime) -> None:
    """Mark findings as delivered on ``channel`` (a key already there keeps its first time)."""
    if keys:
        store.con.executemany(
            "INSERT OR IGNORE INTO notifications_sent (finding_key, channel, sent_utc) "
            "VALUES (?, ?, ?)",
            [[k, channel, now] for k in dict.fromkeys(keys)],
        )


def recent_flags(store: Store, athlete_id: str, *, since: datetime) -> pl.DataFrame:
    """Recovery flags of completed runs from ``since`` on, alerts and warnings only.

    The columns ``pipeline.plans.notify.flag_findings`` reads (``flag_id``, ``rule``,
    ``severity``, ``message``); ``info`` flags (easy runs in a window) are not worth a notice.
    """
    return store.frame(
        "SELECT flag_id, rule, severity, message, run_start_utc FROM recovery_flags "
        "WHERE athlete_id = ? AND run_start_utc >= ? AND severity IN ('alert', 'warning') "
        "ORDER BY run_start_utc, flag_id",
        [athlete_id, since],
    )


# -- plan files (FIT workout and schedule files) ----------------------------------------------


@dataclass(frozen=True)
class StoredPlanFile:
    """A FIT workout or schedule file as ``plan_files`` keeps it."""

    sha256: str
    file_type: str  # workout | schedules
    serial_number: int | None
    time_created: datetime | None  # UTC
    stored_utc: datetime
    decoded: DecodedPlanFile  # named ``<file name> (<sha256[:12]>)``


def save_plan_file(
    store: Store, athlete_id: str, sha256: str, name: str, decoded: DecodedPlanFile, now: datetime
) -> None:
    """Keep one decoded workout or schedule file (the same bytes again replace their row).

    No transaction of its own: the writer calls it inside the file's transaction, so the file's
    ``files`` row and its plan messages are committed together.
    """
    kind = decoded.file_id.get("type")
    file_type = (
        kind
        if kind in ("workout", "schedules")
        else ("schedules" if decoded.schedules or decoded.workout is None else "workout")
    )
    serial = decoded.file_id.get("serial_number")
    created = decoded.file_id.get("time_created")
    title = decoded.workout.get("wkt_name") if decoded.workout is not None else None
    store.con.execute(
        "INSERT OR REPLACE INTO plan_files (athlete_id, sha256, name, file_type, serial_number, "
        "time_created, title, entries, messages, stored_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            athlete_id,
            sha256,
            name,
            file_type,
            serial if isinstance(serial, int) else None,
            _utc(created) if isinstance(created, datetime) else None,
            title if isinstance(title, str) else None,
            len(decoded.schedules) if file_type == "schedules" else len(decoded.workout_steps),
            plan_to_json(decoded),
            now,
        ],
    )


def load_plan_files(store: Store, athlete_id: str) -> list[StoredPlanFile]:
    """Every plan file of the athlete, oldest first (by ``time_created``, then stored time)."""
    rows = store.rows(
        "SELECT sha256, name, file_type, serial_number, time_created, stored_utc, messages "
        "FROM plan_files WHERE athlete_id = ? "
        "ORDER BY time_created NULLS FIRST, stored_utc, sha256",
        [athlete_id],
    )
    return [
        StoredPlanFile(
            sha256=sha,
            file_type=file_type,
            serial_number=serial,
            time_created=_utc(created) if created is not None else None,
            stored_utc=_utc(stored),
            decoded=plan_from_json(f"{name} ({sha[:12]})", messages),
        )
        for sha, name, file_type, serial, created, stored, messages in rows
    ]
