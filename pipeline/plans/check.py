"""The "coming up" check: planned hard runs that fall inside a leg session's recovery window.

Pure function ``check_plans``: planned workouts, the completed sessions frame (the input of
``pipeline.derive.recovery.recovery_flags``), ``as_of`` and settings in; typed ``Conflict``s out. It does
not restate the recovery rules: planned sessions are added to the sessions frame as rows
(``activity_id = "plan:<plan_key>"``) and the frame goes through ``recovery_flags`` itself, so
the rules, thresholds, tie-breaking, unaccustomed test and DST-correct hour arithmetic are the
ones the daily report uses. A planned leg session counts like a completed one (a planned leg
session of intensity ``hard`` is a heavy one).

Which planned sessions take part:

* runs checked: planned runs starting from ``as_of`` to the end of the athlete's local day
  ``horizon_days`` after ``as_of``'s local date;
* leg sessions: every completed one, every planned one from ``as_of`` on, and planned ones that
  started up to ``leg_lookback_hours`` before ``as_of`` when no completed leg session is on the
  same local date (the file may not have synced yet); older planned ones are taken as skipped;
* completed sessions: those that can still decide a flag (ended within the longest window plus
  the unaccustomed span before ``as_of``) and the latest one before, as evidence of a layoff;
* plans are unique by ``(athlete_id, plan_key)``; of duplicates the last one given counts;
* a conflict is a flag of at least ``min_severity`` (``warning``: only hard runs; the ``info``
  rules for easy and unknown runs are left out unless asked for);
* a completed strength session of unknown region is what ``recovery.unknown_strength`` makes
  of it in the report (``pipeline.derive.possible_legs``): a possible leg session (rule
  ``possible_legs``, its severity, and the two commands that settle it in the message), a leg
  session (``legs``) or nothing (``not_legs``); the frame carries ``region``, ``kind_source``
  and ``kind_reason`` for that;
* under ``recovery.model = "fatigue"`` (``fatigue`` given) what was done is judged by the leg
  fatigue curve, as the report's flags are, and planned leg sessions by the rules
  (``pipeline.plans.check_fatigue``).

Each conflict carries two suggestions, both checked by running the rules again:

* move: the earliest instant at which the run draws no flag of ``min_severity`` or more (the
  legs' ready time, pushed on past any later leg session's window);
* swap: with the nearest easy run planned inside the checked days, only when the hard run at
  that easy run's time draws no such flag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

import polars as pl

from pipeline.config import RecoverySettings
from pipeline.derive.possible_legs import POSSIBLE_RULE, settle_sentence
from pipeline.derive.recovery import REQUIRED_COLUMNS, SEVERITY_RANK, format_local, recovery_flags
from pipeline.fit.schemas import UTC_TS
from pipeline.plans.check_fatigue import FatigueInput, curve_flags, planned_legs_for_rules
from pipeline.plans.model import PlannedWorkout, with_times

DEFAULT_HORIZON_DAYS = 3
DEFAULT_LEG_LOOKBACK_HOURS = 24.0
PLAN_PREFIX = "plan:"
#: A suggested move is searched over at most this many later leg sessions.
MAX_MOVE_STEPS = 50

_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "start_utc": UTC_TS,
    "end_utc": UTC_TS,
    "intensity": pl.String(),
    "heavy": pl.Boolean(),
    "leg_score": pl.Float64(),
    "name": pl.String(),
    "sport": pl.String(),
    "sub_sport": pl.String(),
    # What makes a completed strength session a *possible* leg session (issue 12's rule,
    # ``pipeline.derive.possible_legs.unknown_strength``); null for planned sessions.
    "region": pl.String(),
    "kind_source": pl.String(),
    "kind_reason": pl.String(),
    # Where the athlete's history begins (the unaccustomed test); null for planned sessions.
    "history_start_utc": UTC_TS,
}


@dataclass(frozen=True)
class LegSession:
    """The leg session a conflict is about: completed (an activity) or planned (a plan)."""

    session_id: str  # activity_id, or "plan:<plan_key>"
    title: str
    planned: bool
    end_utc: datetime
    all_day: bool = False  # a planned all-day event, placed at the default local hour
    possible: bool = False  # a strength session of unknown region (``possible_legs`` rule)


@dataclass(frozen=True)
class Conflict:
    """A planned run inside a leg session's window, and what to do about it."""

    finding_key: str
    athlete_id: str
    run: PlannedWorkout
    leg: LegSession
    hours_between: float
    severity: str
    rule: str
    threshold_hours: float
    evidence: str
    legs_ready_utc: datetime
    move_to_utc: datetime
    swap_with: PlannedWorkout | None
    suggestion: str
    message: str


def _plan_id(plan: PlannedWorkout) -> str:
    return PLAN_PREFIX + plan.plan_key


def _row(plan: PlannedWorkout, start: datetime | None = None) -> dict[str, Any]:
    begin = start or plan.start_utc
    return {
        "activity_id": _plan_id(plan),
        "kind": plan.kind,
        "start_utc": begin,
        "end_utc": begin + (plan.end_utc - plan.start_utc),
        "intensity": plan.intensity if plan.kind == "run" else None,
        "heavy": plan.kind == "leg_strength" and plan.intensity == "hard",
        "leg_score": None,
        "name": plan.title,
        "sport": plan.sport,
        "sub_sport": None,
        "region": None,
        "kind_source": None,
        "kind_reason": None,
    }


def _completed(sessions: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in sessions.columns]
    if missing:
        raise ValueError(f"sessions frame lacks columns: {', '.join(missing)}")
    out = sessions
    for col in ("start_utc", "end_utc"):
        dtype = out.schema[col]
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
            raise ValueError(f"sessions.{col} must be a tz-aware Datetime, got {dtype}")
        out = out.with_columns(pl.col(col).dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    for col, dtype in _FRAME_SCHEMA.items():
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return out.select([pl.col(c).cast(t) for c, t in _FRAME_SCHEMA.items()])


def _local_date(ts: datetime, tz: tzinfo) -> Any:
    return ts.astimezone(tz).date()


class _Checker:
    """Runs ``recovery_flags`` over completed sessions plus a set of planned sessions.

    With ``fatigue`` (``recovery.model = "fatigue"``) the completed sessions are judged by the
    leg fatigue curve and only the planned leg sessions by the rules (``check_fatigue``); a run
    takes the stronger finding.
    """

    def __init__(
        self,
        completed: pl.DataFrame,
        legs: Sequence[PlannedWorkout],
        settings: RecoverySettings,
        unaccustomed_days: int,
        tz: tzinfo,
        min_rank: int,
        fatigue: FatigueInput | None = None,
    ) -> None:
        planned = pl.DataFrame([_row(p) for p in legs], schema=_FRAME_SCHEMA)
        self.completed = completed
        self.fatigue = fatigue
        if fatigue is None:
            self.base = pl.concat([completed, planned])
            self.settings, self.days = settings, unaccustomed_days
        else:
            self.base, self.settings, self.days = planned_legs_for_rules(
                completed, planned, settings, unaccustomed_days
            )
        self.tz = tz
        self.min_rank = min_rank

    def flags(self, runs: Sequence[tuple[PlannedWorkout, datetime]]) -> dict[str, dict[str, Any]]:
        """Flags of at least the minimum severity by plan id, each run at the given start."""
        rows = pl.DataFrame([_row(p, s) for p, s in runs], schema=_FRAME_SCHEMA)
        frame = pl.concat([self.base, rows])
        found = recovery_flags(frame, self.settings, self.days, tz=self.tz).to_dicts()
        if self.fatigue is not None:
            found += curve_flags(self.fatigue, self.completed, rows, self.tz).to_dicts()
        ids = {_plan_id(p) for p, _ in runs}
        out: dict[str, dict[str, Any]] = {}
        for f in found:
            run_id, rank = f["run_activity_id"], SEVERITY_RANK[f["severity"]]
            if run_id not in ids or rank < self.min_rank:
                continue
            # The stronger finding; of equal ones the later leg session (as the rules break ties).
            held = out.get(run_id)
            if held is None or (rank, f["leg_end_utc"]) > (
                SEVERITY_RANK[held["severity"]],
                held["leg_end_utc"],
            ):
                out[run_id] = f
        return out

    def earliest_clear(self, run: PlannedWorkout, start: datetime) -> datetime:
        """The first instant from ``start`` at which the run draws no flag (ready times chain)."""
        t = start
        for _ in range(MAX_MOVE_STEPS):
            flag = self.flags([(run, t)]).get(_plan_id(run))
            if flag is None:
                return t
            t = max(flag["intense_ok_from_utc"], t + timedelta(seconds=1))
        return t


def finding_key(athlete_id: str, run: PlannedWorkout, leg_id: str, rule: str) -> str:
    """Stable id of a conflict: the same plan, leg session, rule and start give the same key."""
    text = f"{athlete_id}|{run.plan_key}|{run.start_utc.isoformat()}|{leg_id}|{rule}"
    return "conflict-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def check_plans(
    plans: Sequence[PlannedWorkout],
    sessions: pl.DataFrame,
    as_of: datetime,
    settings: RecoverySettings,
    unaccustomed_days: int,
    tz: tzinfo,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    leg_lookback_hours: float = DEFAULT_LEG_LOOKBACK_HOURS,
    min_severity: str = "warning",
    fatigue: FatigueInput | None = None,
) -> list[Conflict]:
    """Conflicts of the planned runs in the next ``horizon_days`` (rules in the module doc).

    ``fatigue`` (the completed sets' doses) switches to ``recovery.model = "fatigue"``.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be tz-aware")
    if min_severity not in SEVERITY_RANK:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITY_RANK)}")
    as_of = as_of.astimezone(UTC)
    # One plan per key, the last one given (the newer arrival replaces the older, as stored).
    plans = list({(p.athlete_id, p.plan_key): p for p in plans}.values())
    last_day = _local_date(as_of, tz) + timedelta(days=horizon_days + 1)
    window_end = datetime.combine(last_day, time(0), tzinfo=tz).astimezone(UTC)
    # Only what can still decide a flag: the longest window before now, and the unaccustomed
    # test's span before that (the lookback the daily refresh uses), plus the latest session
    # before it, so that a long layoff still reads as one (any earlier session is evidence).
    longest = max(
        settings.same_day_hours,
        settings.alert_hours,
        settings.warning_hours,
        settings.heavy_warning_hours,
        settings.info_hours,
    )
    since = as_of - timedelta(hours=longest) - timedelta(days=unaccustomed_days + 1)
    every = _completed(sessions)
    ended = pl.col("end_utc").fill_null(pl.col("start_utc"))
    completed = pl.concat(
        [every.filter(ended < since).sort("start_utc").tail(1), every.filter(ended >= since)]
    )
    done_leg_days = {
        _local_date(ts, tz)
        for ts in completed.filter(pl.col("kind") == "leg_strength")["start_utc"].to_list()
    }
    lookback = as_of - timedelta(hours=leg_lookback_hours)
    legs = [
        p
        for p in plans
        if p.kind == "leg_strength"
        and (
            p.start_utc >= as_of
            or (p.start_utc >= lookback and _local_date(p.start_utc, tz) not in done_leg_days)
        )
    ]
    runs = sorted(
        (p for p in plans if p.kind == "run" and as_of <= p.start_utc < window_end),
        key=lambda p: (p.start_utc, p.plan_key),
    )
    checker = _Checker(
        completed, legs, settings, unaccustomed_days, tz, SEVERITY_RANK[min_severity], fatigue
    )
    flags = checker.flags([(p, p.start_utc) for p in runs])
    by_id = {_plan_id(p): p for p in legs}
    titles = dict(zip(completed["activity_id"].to_list(), completed["name"].to_list(), strict=True))
    conflicts: list[Conflict] = []
    for run in runs:
        flag = flags.get(_plan_id(run))
        if flag is None:
            continue
        leg_id = str(flag["leg_activity_id"])
        leg_plan = by_id.get(leg_id)
        leg = LegSession(
            session_id=leg_id,
            title=leg_plan.title if leg_plan else str(titles.get(leg_id) or "leg session"),
            planned=leg_plan is not None,
            end_utc=flag["leg_end_utc"],
            all_day=leg_plan is not None and leg_plan.all_day,
            possible=flag["rule"] == POSSIBLE_RULE,
        )
        ready: datetime = flag["intense_ok_from_utc"]
        move_to = checker.earliest_clear(run, ready)
        swap = _swap(checker, run, runs)
        conflicts.append(_conflict(run, leg, flag, ready, move_to, swap, tz))
    return conflicts


def _swap(
    checker: _Checker, run: PlannedWorkout, runs: Sequence[PlannedWorkout]
) -> PlannedWorkout | None:
    """The nearest easy planned run whose slot clears the hard run (checked by the rules)."""
    candidates = sorted(
        (p for p in runs if p.intensity == "easy" and p.plan_key != run.plan_key),
        key=lambda p: (abs((p.start_utc - run.start_utc).total_seconds()), p.start_utc),
    )
    for easy in candidates:
        if _plan_id(run) not in checker.flags([(run, easy.start_utc)]):
            return easy
    return None


def _conflict(
    run: PlannedWorkout,
    leg: LegSession,
    flag: dict[str, Any],
    ready: datetime,
    move_to: datetime,
    swap: PlannedWorkout | None,
    tz: tzinfo,
) -> Conflict:
    hours = float(flag["hours_between"])
    status = "planned" if leg.planned else "done"
    leg_when = f"{status}, ended {format_local(leg.end_utc, tz)}"
    if leg.all_day:
        leg_when = f"planned all day, taken as ending {format_local(leg.end_utc, tz)}"
    if leg.possible:
        leg_when += (
            ", a strength session of unknown region: it may have trained legs; "
            + settle_sentence(leg.session_id)
        )
    limit = float(flag["threshold_hours"])
    why = f"under {limit:g} h; {flag['evidence']}"
    if str(flag["rule"]).startswith("fatigue_"):
        why = f"leg fatigue above the ready level until {limit:.1f} h after; {flag['evidence']}"
    suggestion = f"move '{run.title}' to {format_local(move_to, tz)} or later"
    if swap is not None:
        suggestion += f", or swap it with '{swap.title}' planned {format_local(swap.start_utc, tz)}"
    when = "on " + format_local(run.start_utc, tz)
    if run.all_day:
        when = (
            f"on {format_local(run.start_utc, tz)[:10]} (all day, taken as {run.start_local:%H:%M})"
        )
    message = (
        f"{run.title} (hard run, planned {when}) is {hours:.1f} h after the end of "
        f"'{leg.title}' ({leg_when}): {flag['severity']}, "
        f"{flag['rule']} ({why}). "
        f"Legs ready for intense running from {format_local(ready, tz)}. "
        f"Suggestion: {suggestion}."
    )
    return Conflict(
        finding_key=finding_key(run.athlete_id, run, leg.session_id, str(flag["rule"])),
        athlete_id=run.athlete_id,
        run=run,
        leg=leg,
        hours_between=hours,
        severity=str(flag["severity"]),
        rule=str(flag["rule"]),
        threshold_hours=limit,
        evidence=str(flag["evidence"]),
        legs_ready_utc=ready,
        move_to_utc=move_to,
        swap_with=swap,
        suggestion=suggestion,
        message=message,
    )


def moved(plan: PlannedWorkout, to_utc: datetime, tz: tzinfo) -> PlannedWorkout:
    """``plan`` at another instant (to apply a suggestion and check again)."""
    return with_times(plan, to_utc, tz)
