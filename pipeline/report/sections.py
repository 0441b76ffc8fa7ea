"""The report's sections that look ahead and at the curve: "Coming up" (issue 13), the legs'
fatigue levels and ready time (issue 14) and "What your runs say" (issue 14). Pure.

Each section is a frozen dataclass the ``Report`` carries (``model.Report.coming_up``,
``leg_fatigue``, ``runs_evidence``), built here from what the store keeps: the stored plan
conflicts (``store.plans_sql.conflicts_frame``), a ``legs_ready``-shaped row as of the report
day's end (``derive.fatigue_service.legs_at``, from the stored doses) and an ``EvidenceReport``
(``derive.fatigue_service.evidence_for``). Instants are in the athlete's zone, cut to whole
seconds, as everywhere in the report; numbers are rounded once, here. The sentences the
Markdown and the HTML share are here too, so both say the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

import polars as pl

from pipeline.derive.evidence import EvidenceReport, Measure
from pipeline.derive.fatigue_regions import REGIONS
from pipeline.derive.recovery import SEVERITY_RANK, Severity
from pipeline.errors import ReportError

#: What a person reads for each measure of "What your runs say".
MEASURE_WORDS = {
    Measure.EFFICIENCY: "Efficiency (m per heartbeat, steady laps)",
    Measure.HR_AT_EASY_PACE: "Heart rate at your usual easy pace",
    Measure.CARDIAC_DRIFT: "Cardiac drift (Pa:HR)",
}
REGION_WORDS = {
    "quadriceps": "quadriceps",
    "posterior_chain": "posterior chain (hamstrings, glutes)",
    "calves": "calves",
}


def _local(ts: datetime | None, tz: tzinfo) -> datetime | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise ReportError(f"naive timestamp {ts.isoformat()} in report input; expected UTC")
    return ts.astimezone(tz).replace(microsecond=0)


def _at(ts: datetime, tz: tzinfo) -> datetime:
    out = _local(ts, tz)
    assert out is not None
    return out


# -- Coming up (issue 13) --------------------------------------------------------------------


class ComingUpStatus(StrEnum):
    CONFLICTS = "conflicts"
    NO_CONFLICTS = "no_conflicts"  # sessions are planned, none conflicts
    NOTHING_PLANNED = "nothing_planned"


@dataclass(frozen=True)
class UpcomingConflict:
    """A planned hard run inside a leg session's window (a stored ``plan_conflicts`` row)."""

    severity: Severity
    rule: str
    evidence: str | None
    run_title: str
    run_start: datetime
    run_all_day: bool
    leg_title: str
    leg_planned: bool  # the leg session is a plan too, not a completed session
    leg_end: datetime
    hours_between: float
    legs_ready: datetime | None
    move_to: datetime | None
    suggestion: str


@dataclass(frozen=True)
class ComingUp:
    """Conflicts of the planned runs from the report day's start to the end of the local day
    ``horizon_days`` after it; ``planned`` counts every plan of any kind in that span."""

    start: datetime
    end: datetime
    horizon_days: int
    planned: int
    planned_runs: int
    status: ComingUpStatus
    conflicts: tuple[UpcomingConflict, ...]  # strongest first, then by run start


def coming_up(
    conflicts: pl.DataFrame,
    *,
    start: datetime,
    end: datetime,
    horizon_days: int,
    planned_kinds: list[str],
    tz: tzinfo,
) -> ComingUp:
    """The "Coming up" section: ``conflicts`` as ``conflicts_frame`` returns them (any span;
    cut to ``[start, end)`` here), ``planned_kinds`` the kind of each plan in that span."""
    rows = [
        r
        for r in conflicts.to_dicts()
        if r["run_start_utc"] is not None and start <= r["run_start_utc"] < end
    ]
    items = [
        UpcomingConflict(
            severity=r["severity"],
            rule=r["rule"],
            evidence=r.get("evidence"),
            run_title=str(r["run_title"]),
            run_start=_at(r["run_start_utc"], tz),
            run_all_day=bool(r["run_all_day"]),
            leg_title=str(r["leg_title"]),
            leg_planned=bool(r["leg_planned"]),
            leg_end=_at(r["leg_end_utc"], tz),
            hours_between=round(float(r["hours_between"]), 1),
            legs_ready=_local(r.get("legs_ready_utc"), tz),
            move_to=_local(r.get("move_to_utc"), tz),
            suggestion=str(r["suggestion"]),
        )
        for r in rows
    ]
    items.sort(key=lambda c: (-SEVERITY_RANK.get(c.severity, 0), c.run_start))
    if items:
        status = ComingUpStatus.CONFLICTS
    elif planned_kinds:
        status = ComingUpStatus.NO_CONFLICTS
    else:
        status = ComingUpStatus.NOTHING_PLANNED
    return ComingUp(
        start=_at(start, tz),
        end=_at(end, tz),
        horizon_days=horizon_days,
        planned=len(planned_kinds),
        planned_runs=sum(1 for k in planned_kinds if k == "run"),
        status=status,
        conflicts=tuple(items),
    )


def coming_up_sentence(c: ComingUp) -> str:
    """What the section says before (or instead of) its conflicts."""
    last = c.end - timedelta(seconds=1)  # ``end`` is the next local midnight
    span = f"from {c.start:%a %d %b} to the end of {last:%a %d %b}"
    days = f"the report day and the next {c.horizon_days} days"
    if c.status == ComingUpStatus.NOTHING_PLANNED:
        return f"Nothing planned {span} ({days}): no plans to check."
    runs = f"{c.planned_runs} run{'s' if c.planned_runs != 1 else ''}"
    planned = f"{c.planned} planned session{'s' if c.planned != 1 else ''} ({runs})"
    if c.status == ComingUpStatus.NO_CONFLICTS:
        return f"No conflicts in the next {c.horizon_days} days: {planned} {span}, none too soon."
    n = len(c.conflicts)
    return f"{n} conflict{'s' if n != 1 else ''} among {planned} {span}."


def conflict_line(c: UpcomingConflict, when: Any) -> str:
    """One conflict: run, leg session, hours between, severity, ready time, suggestion."""
    leg = f"'{c.leg_title}'" + (" (planned)" if c.leg_planned else "")
    run_at = f"{c.run_start:%a %d %b}, all day" if c.run_all_day else when(c.run_start)
    ready = f"; legs ready {when(c.legs_ready)}" if c.legs_ready else ""
    return (
        f"{c.run_title}, {run_at}: {c.hours_between:.1f} h after {leg}, which ended "
        f"{when(c.leg_end)} (rule {c.rule}){ready}. Suggestion: {c.suggestion}."
    )


# -- the legs as a curve (issue 14) ----------------------------------------------------------


@dataclass(frozen=True)
class RegionLevel:
    region: str  # quadriceps, posterior_chain, calves
    level: float  # fatigue at ``LegFatigue.as_of``, 1.0 = the reference session's peak
    above_threshold: bool


@dataclass(frozen=True)
class LegFatigue:
    """The legs at ``as_of``: each region's level and when all are at or below the threshold.

    ``model`` names what decides the flags (``recovery.model``); ``as_of`` is None when no
    doses are stored yet (no refresh since the store had sets).
    """

    model: str
    as_of: datetime | None
    status: str  # ready, recovering, unknown
    ready_at: datetime | None
    limiting_region: str | None
    threshold: float | None
    levels: tuple[RegionLevel, ...]


def leg_fatigue(row: Mapping[str, Any] | None, model: str, tz: tzinfo) -> LegFatigue:
    """The section from a row shaped like ``legs_ready``'s (``fatigue_service.legs_at``, or
    ``fatigue_sql.latest_legs_ready``); None: nothing stored yet."""
    if row is None:
        return LegFatigue(model, None, "unknown", None, None, None, ())
    threshold = float(row["threshold"])
    levels = tuple(
        RegionLevel(r.value, round(float(row[r.value]), 3), float(row[r.value]) > threshold)
        for r in REGIONS
    )
    ready_at = _local(row.get("ready_at_utc"), tz)
    return LegFatigue(
        model=model,
        as_of=_local(row["as_of_utc"], tz),
        status="ready" if ready_at is None else "recovering",
        ready_at=ready_at,
        limiting_region=row.get("limiting_region"),
        threshold=round(threshold, 3),
        levels=levels,
    )


def fatigue_sentence(f: LegFatigue, when: Any) -> str:
    """The ready time and who decides the flags, as a sentence."""
    decides = (
        "The curve decides the flags (recovery.model = fatigue)."
        if f.model == "fatigue"
        else "The rule windows decide the flags (recovery.model = windows); the curve is shown "
        "alongside."
    )
    if f.as_of is None:
        return "No leg fatigue stored yet: the next refresh computes it. " + decides
    if f.ready_at is None:
        head = f"Legs ready: every region is at or below {f.threshold:g} as of {when(f.as_of)}."
    else:
        region = REGION_WORDS.get(str(f.limiting_region), str(f.limiting_region))
        head = (
            f"Legs ready at {when(f.ready_at)}: the {region} are the last region above "
            f"{f.threshold:g} (as of {when(f.as_of)}, counting no sets after it)."
        )
    return f"{head} {decides}"


def levels_line(f: LegFatigue) -> str:
    """``quadriceps 0.412 (above 0.1) · ...``: the levels at ``as_of``."""
    return " · ".join(
        f"{REGION_WORDS[lv.region]} {lv.level:.2f}" + (" (above)" if lv.above_threshold else "")
        for lv in f.levels
    )


# -- What your runs say (issue 14) ---------------------------------------------------------


@dataclass(frozen=True)
class EvidenceRow:
    """One measure and bucket: n, and the difference to the baseline with its interval, or
    none ("not enough data")."""

    measure: str
    bucket: str
    n: int
    baseline_n: int
    verdict: str
    difference: float | None
    low: float | None
    high: float | None
    unit: str | None  # "%" of the baseline mean, or "points" (cardiac drift)


@dataclass(frozen=True)
class WindowHint:
    measure: str
    hours: float | None
    reason: str


@dataclass(frozen=True)
class RunsEvidence:
    """What the athlete's runs say about leg days; suggestions are never applied."""

    runs_used: int
    runs_without_prior_leg: int
    min_n: int
    confidence: float  # family-wise
    per_interval_confidence: float
    rows: tuple[EvidenceRow, ...]
    suggestions: tuple[WindowHint, ...]
    suggested_window_hours: float | None
    applied: bool = False


def runs_evidence(ev: EvidenceReport) -> RunsEvidence:
    rows = []
    for r in ev.results:
        d = r.difference
        rows.append(
            EvidenceRow(
                measure=r.measure.value,
                bucket=r.bucket.value,
                n=r.n,
                baseline_n=r.baseline_n,
                verdict=r.verdict.value,
                difference=None if d is None else round(d.estimate, 1),
                low=None if d is None else round(d.low, 1),
                high=None if d is None else round(d.high, 1),
                unit=None if d is None else ("%" if d.unit == "%" else "points"),
            )
        )
    return RunsEvidence(
        runs_used=ev.runs_used,
        runs_without_prior_leg=ev.runs_without_prior_leg,
        min_n=ev.min_n,
        confidence=round(ev.confidence, 4),
        per_interval_confidence=round(ev.per_interval_confidence, 4),
        rows=tuple(rows),
        suggestions=tuple(WindowHint(s.measure.value, s.hours, s.reason) for s in ev.suggestions),
        suggested_window_hours=ev.suggested_window_hours,
    )


def measure_words(measure: str) -> str:
    return MEASURE_WORDS.get(Measure(measure), measure)


def difference_text(row: EvidenceRow) -> str:
    """``-5.7 % [-7.0, -4.2]``, or "not enough data" (never a number without its interval)."""
    if row.difference is None:
        return "not enough data"
    unit = " %" if row.unit == "%" else " points"
    return f"{row.difference:+.1f}{unit} [{row.low:+.1f}, {row.high:+.1f}]"


def evidence_intro(e: RunsEvidence) -> str:
    return (
        f"Your runs by hours since the end of the last leg session, each bucket against runs "
        f"more than 72 h after (the baseline): {e.runs_used} runs after a leg session, "
        f"{e.runs_without_prior_leg} with none before them left out. A difference needs "
        f"{e.min_n} runs in the bucket and in the baseline; intervals are "
        f"{e.per_interval_confidence * 100:.2f} % bootstraps ({e.confidence:.0%} over all)."
    )


def suggestion_lines(e: RunsEvidence) -> list[str]:
    """The suggested windows, said to be suggestions (nothing is applied)."""
    out = [
        f"{measure_words(s.measure)}: "
        + (f"{s.hours:g} h" if s.hours is not None else "no window")
        + f" — {s.reason}"
        for s in e.suggestions
    ]
    longest = e.suggested_window_hours
    out.append(
        f"Suggested personal window: {longest:g} h, never applied: set recovery.warning_hours "
        "in legday.toml yourself if you agree."
        if longest is not None
        else "No personal window suggested; the configured windows stay as they are."
    )
    return out
