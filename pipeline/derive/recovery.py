"""Recovery rules: flag intense runs that start too soon after the end of a leg session.

Pure functions over the ``sessions`` frame (one athlete; the join of activities, classification
and metrics: ``activity_id, kind, start_utc, end_utc, intensity, heavy, leg_score, name, sport,
sub_sport``). No I/O, no clock: the caller passes the instant it wants the legs' state at.

Evidence keys refer to domain.md section (d), table D1:

* S1 Doma & Deakin 2013 -- strength then running 6 h later costs the most (order matters).
* S2 Doma et al. 2019 -- after a 6RM lower-body session, "at least 48 h" before running.
* S3 Burt, Doma & Connor 2023 -- high-intensity running impaired at 24 h and 48 h;
  low-intensity running unchanged at 24 h, impaired at 48 h.
* S4 Assumpcao et al. 2013 -- the repeated-bout effect blunts damage in accustomed lifters.
* S5 Marcora & Bosio 2007 -- self-paced time trial -4 % at 48 h.
* S9 Robineau et al. 2016 -- 0 h / 6 h gaps interfere more than 24 h.
* S11 Cheung, Hume & Maxwell 2003 -- DOMS peaks 24-72 h.

Rules (``RULES`` in ``pipeline.derive.rules``, with the citations; thresholds come from
``RecoverySettings``; the gap is real elapsed hours from the END of the leg session to the START
of the run, on UTC instants so DST changes count as the hours they really are):

* ``same_day`` (alert): hard run, gap < ``same_day_hours`` (6 h). S1, S9.
* ``intense_24h`` (alert): hard run, gap < ``alert_hours`` (24 h). S2, S3.
* ``intense_48h`` (warning): hard run, gap < ``warning_hours`` (48 h). S2, S3, S5.
* ``intense_72h_heavy`` (warning): hard run, gap < ``heavy_warning_hours`` (72 h) after a heavy
  or unaccustomed leg session. S11, S4.
* ``easy_in_window`` (info): easy or moderate run, gap < ``info_hours`` (48 h). S3.
* ``unknown_in_window`` (info): run of unknown intensity (no usable HR), gap < ``info_hours``. S3.
* ``possible_legs`` (``possible_legs_severity``, warning): hard run, gap < ``warning_hours``
  after a *possible* leg session (strength, region unknown; ``pipeline.derive.possible_legs``).
  S2, S3. Only where no known leg session flags the run; the message says how to settle it.

Only intensity ``'hard'`` is intense. A run that starts before a leg session ends is never
flagged against that session. A run gets at most one flag: the strongest severity over all leg
sessions before it; ties go to the most recent leg session, then to the rule listed first.
``unknown_strength`` (``RecoverySettings``) makes unknown-region strength sessions possible leg
sessions (default), leg sessions (every rule) or nothing.
Because every rule is "gap below a threshold", the severity can only grow as the gap shrinks.
The 72 h extension applies to intense runs only: S3 found low-intensity running impaired up to
48 h, not beyond.

Unaccustomed (S4): a leg session with no other leg session starting in the ``unaccustomed_days``
days before it. When the frame holds no leg session before it, that absence is only evidence if
the athlete's history reaches back at least ``unaccustomed_days`` before the session (any kind
of session counts; ``history_start_utc`` says where the store's history begins, so the answer
does not depend on how far back a caller read the frame); otherwise we cannot tell a layoff from a short export, and we treat the
session as accustomed so a new user's first import does not raise every window to 72 h.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

import polars as pl

from pipeline.config import RecoverySettings
from pipeline.derive.possible_legs import (
    POSSIBLY_RECOVERING,
    UnknownStrength,
    settle_sentence,
    unknown_strength,
    why_unknown,
)
from pipeline.derive.rules import EVIDENCE, RULE_ORDER, RULES, SEVERITY_RANK, Rule, Severity
from pipeline.derive.session_rows import (
    REQUIRED_COLUMNS,
    display_name,
    format_local,
    prepare,
    run_intensity,
)
from pipeline.fit.schemas import UTC_TS

#: Callers import the rule table's names from here too (reports cite ``EVIDENCE``).
__all__ = [
    "EVIDENCE",
    "FLAG_SCHEMA",
    "REQUIRED_COLUMNS",
    "RULES",
    "SEVERITY_RANK",
    "Severity",
    "format_local",
    "legs_state",
    "recovery_flags",
]

FLAG_SCHEMA: dict[str, pl.DataType] = {
    "flag_id": pl.String(),
    "run_activity_id": pl.String(),
    "leg_activity_id": pl.String(),
    "run_start_utc": UTC_TS,
    "leg_end_utc": UTC_TS,
    "hours_between": pl.Float64(),
    "severity": pl.String(),
    "rule": pl.String(),
    "run_intensity": pl.String(),
    "leg_heavy": pl.Boolean(),
    "leg_unaccustomed": pl.Boolean(),
    "message": pl.String(),
    # Beyond the contract's columns: what the report needs to explain a flag.
    "threshold_hours": pl.Float64(),
    "evidence": pl.String(),
    "intense_ok_from_utc": UTC_TS,
}


@dataclass(frozen=True)
class _Leg:
    activity_id: str
    start: datetime
    end: datetime
    heavy: bool
    unaccustomed: bool
    name: str
    leg_score: float | None
    possible: bool = False  # a strength session of unknown region (``possible_legs``)
    why_unknown: str = ""

    @property
    def extended(self) -> bool:
        return self.heavy or self.unaccustomed


@dataclass(frozen=True)
class _Run:
    activity_id: str
    start: datetime
    intensity: str
    name: str


def _history_start(df: pl.DataFrame) -> datetime | None:
    """Where the athlete's history begins: the store's first activity when the frame says
    (``history_start_utc``), else the frame's first session."""
    if not df.height:
        return None
    if "history_start_utc" in df.columns and df["history_start_utc"].null_count() < df.height:
        return cast("datetime | None", df["history_start_utc"].min())
    return cast("datetime | None", df["start_utc"].min())


def _legs(df: pl.DataFrame, unaccustomed_days: int, settings: RecoverySettings) -> list[_Leg]:
    """Leg sessions in end order, each with its unaccustomed flag (see the module docstring).

    Under ``unknown_strength = "legs"`` the strength sessions of unknown region are among them.
    """
    history_start = _history_start(df)
    is_leg = pl.col("kind") == "leg_strength"
    if settings.unknown_strength == UnknownStrength.LEGS:
        is_leg = is_leg | unknown_strength()
    rows = df.filter(is_leg).to_dicts()
    span = timedelta(days=unaccustomed_days)
    legs: list[_Leg] = []
    for row in rows:
        start: datetime = row["start_utc"]
        previous = [r for r in rows if r["start_utc"] < start]
        if any(r["start_utc"] >= start - span for r in previous):
            unaccustomed = False
        elif previous:
            unaccustomed = True  # the last leg session is older than the span
        else:
            unaccustomed = history_start is not None and history_start <= start - span
        score = row.get("leg_score")
        legs.append(
            _Leg(
                activity_id=str(row["activity_id"]),
                start=start,
                end=row["end_utc"],
                heavy=bool(row.get("heavy")),
                unaccustomed=unaccustomed_days > 0 and unaccustomed,
                name=display_name(row, "leg session"),
                leg_score=float(score) if score is not None else None,
            )
        )
    legs.sort(key=lambda leg: (leg.end, leg.activity_id))
    return legs


def _possible_legs(df: pl.DataFrame, settings: RecoverySettings) -> list[_Leg]:
    """Possible leg sessions in end order (``unknown_strength = "possible"`` only).

    Never heavy or unaccustomed: nothing is known of what was lifted, so the window is the plain
    leg window, and they do not count as leg history for the unaccustomed test.
    """
    if settings.unknown_strength != UnknownStrength.POSSIBLE:
        return []
    out = [
        _Leg(
            activity_id=str(row["activity_id"]),
            start=row["start_utc"],
            end=row["end_utc"],
            heavy=False,
            unaccustomed=False,
            name=display_name(row, "strength session"),
            leg_score=None,
            possible=True,
            why_unknown=why_unknown(row.get("kind_reason") or row.get("reason")),
        )
        for row in df.filter(unknown_strength()).to_dicts()
    ]
    out.sort(key=lambda leg: (leg.end, leg.activity_id))
    return out


def _window_hours(leg: _Leg, settings: RecoverySettings) -> float:
    """Hours after the leg session's end until an intense run is advised again."""
    return settings.heavy_warning_hours if leg.extended else settings.warning_hours


def _leg_phrase(leg: _Leg, unaccustomed_days: int) -> str:
    if leg.heavy and leg.unaccustomed:
        kind = "a heavy, unaccustomed leg session"
    elif leg.heavy:
        kind = "a heavy leg session"
    elif leg.unaccustomed:
        kind = f"an unaccustomed leg session (none in the {unaccustomed_days} days before)"
    else:
        kind = "a leg session"
    detail = leg.name if leg.leg_score is None else f"{leg.name}, leg score {leg.leg_score:.1f}"
    return f"{kind} ({detail})"


def _match(run: _Run, leg: _Leg, hours: float, settings: RecoverySettings) -> Rule | None:
    """The strongest rule this (run, leg) pair triggers, or None."""
    best: Rule | None = None
    for rule in RULES:
        if rule.possible != leg.possible:
            continue
        if run.intensity not in rule.intensities:
            continue
        if rule.needs_heavy_or_unaccustomed and not leg.extended:
            continue
        if hours >= rule.threshold(settings):
            continue
        if (
            best is None
            or SEVERITY_RANK[rule.severity_in(settings)] > SEVERITY_RANK[best.severity_in(settings)]
        ):
            best = rule
    return best


def _strongest(
    run: _Run, legs: list[_Leg], settings: RecoverySettings, horizon: float
) -> tuple[_Leg, Rule, float] | None:
    """The (leg, rule, gap) of the strongest flag ``legs`` give ``run`` (ties: the most recent
    leg session, then the rule listed first), or None."""
    ends = [leg.end for leg in legs]
    best: tuple[int, datetime, int, _Leg, Rule, float] | None = None
    # Legs that ended at or before the run's start, most recent first.
    for leg in reversed(legs[: bisect_right(ends, run.start)]):
        hours = (run.start - leg.end).total_seconds() / 3600.0
        if hours >= horizon:
            break
        rule = _match(run, leg, hours, settings)
        if rule is None:
            continue
        key = (SEVERITY_RANK[rule.severity_in(settings)], leg.end, -RULE_ORDER[rule.rule_id])
        if best is None or key > best[:3]:
            best = (*key, leg, rule, hours)
    return None if best is None else best[3:]


def _message(
    run: _Run,
    leg: _Leg,
    rule: Rule,
    hours: float,
    settings: RecoverySettings,
    unaccustomed_days: int,
    tz: tzinfo,
) -> str:
    ok_from = leg.end + timedelta(hours=_window_hours(leg, settings))
    why = rule.phrase.format(t=rule.threshold(settings))
    ready = (
        f"legs are advised ready for intense running from {format_local(ok_from, tz)} "
        f"({_window_hours(leg, settings):g} h)"
    )
    if leg.possible:
        return (
            f"{run.name} ({run.intensity}) started {hours:.1f} h after the end of {leg.name}, "
            f"a strength session whose region is unknown ({leg.why_unknown}): it may have been "
            f"a leg session — {why}; if it was, {ready}. {settle_sentence(leg.activity_id)}."
        )
    return (
        f"{run.name} ({run.intensity}) started {hours:.1f} h after the end of "
        f"{_leg_phrase(leg, unaccustomed_days)} — {why}; {ready}."
    )


def _flag_id(run_id: str, leg_id: str) -> str:
    return "flag-" + hashlib.sha256(f"{run_id}|{leg_id}".encode()).hexdigest()[:12]


def recovery_flags(
    sessions: pl.DataFrame,
    settings: RecoverySettings,
    unaccustomed_days: int,
    *,
    tz: tzinfo = UTC,
) -> pl.DataFrame:
    """Flag runs that start too soon after the end of a leg session (rules in ``RULES``).

    ``tz`` only affects how the "advised ready from" time is written in the message; every
    computation is on UTC instants. Returns ``FLAG_SCHEMA`` rows sorted by run start.
    """
    df = prepare(sessions)
    legs = _legs(df, unaccustomed_days, settings)
    possible = _possible_legs(df, settings)
    horizon = max(r.threshold(settings) for r in RULES)
    out: list[dict[str, Any]] = []
    for row in df.filter(pl.col("kind") == "run").to_dicts():
        run = _Run(
            activity_id=str(row["activity_id"]),
            start=row["start_utc"],
            intensity=run_intensity(row.get("intensity")),
            name=display_name(row, "Run"),
        )
        # A flag from a known leg session always wins: a possible one only speaks where the
        # known sessions say nothing, so no flag the rules gave before changes.
        best = _strongest(run, legs, settings, horizon) or _strongest(
            run, possible, settings, horizon
        )
        if best is None:
            continue
        leg, rule, hours = best
        ok_from = leg.end + timedelta(hours=_window_hours(leg, settings))
        out.append(
            {
                "flag_id": _flag_id(run.activity_id, leg.activity_id),
                "run_activity_id": run.activity_id,
                "leg_activity_id": leg.activity_id,
                "run_start_utc": run.start,
                "leg_end_utc": leg.end,
                "hours_between": hours,
                "severity": rule.severity_in(settings),
                "rule": rule.rule_id,
                "run_intensity": run.intensity,
                "leg_heavy": leg.heavy,
                "leg_unaccustomed": leg.unaccustomed,
                "message": _message(run, leg, rule, hours, settings, unaccustomed_days, tz),
                "threshold_hours": rule.threshold(settings),
                "evidence": ", ".join(rule.evidence),
                "intense_ok_from_utc": ok_from,
            }
        )
    return pl.DataFrame(out, schema=FLAG_SCHEMA).sort(["run_start_utc", "flag_id"])


def legs_state(
    sessions: pl.DataFrame,
    as_of_end_utc: datetime,
    settings: RecoverySettings,
    unaccustomed_days: int,
) -> dict[str, Any]:
    """State of the legs at an instant: last leg session, hours since, when intense is OK.

    ``intense_ok_from_utc`` is the latest "end + window" over every leg session ended by
    ``as_of_end_utc`` (window 48 h, 72 h if heavy or unaccustomed), so it agrees with
    ``recovery_flags``: a hard run before it would get a warning or an alert. ``limiting_*``
    names the session that sets it (usually the last one; an earlier heavy one can outlast a
    light one). Status is ``recovering`` before that instant, else ``possibly recovering``
    while a possible leg session (``pipeline.derive.possible_legs``) is inside its window
    (``possible_leg_activity_ids`` lists them, ``possible_ok_from_utc`` is when the last window
    ends), else ``ready`` (also with no leg session at all: the leg fields are then None).
    """
    if as_of_end_utc.tzinfo is None:
        raise ValueError("as_of_end_utc must be tz-aware")
    as_of = as_of_end_utc.astimezone(UTC)
    df = prepare(sessions)
    legs = [leg for leg in _legs(df, unaccustomed_days, settings) if leg.end <= as_of]
    possible = [
        p
        for p in _possible_legs(df, settings)
        if p.end <= as_of < p.end + timedelta(hours=_window_hours(p, settings))
    ]
    state: dict[str, Any] = {
        "as_of_utc": as_of,
        "last_leg_activity_id": None,
        "last_leg_name": None,
        "last_leg_end_utc": None,
        "hours_since": None,
        "heavy": None,
        "unaccustomed": None,
        "leg_score": None,
        "window_hours": None,
        "intense_ok_from_utc": None,
        "limiting_leg_activity_id": None,
        "status": POSSIBLY_RECOVERING if possible else "ready",
        "possible_leg_activity_ids": tuple(p.activity_id for p in possible),
        "possible_ok_from_utc": max(
            (p.end + timedelta(hours=_window_hours(p, settings)) for p in possible), default=None
        ),
    }
    if not legs:
        return state
    last = legs[-1]
    limiting = max(
        legs, key=lambda leg: (leg.end + timedelta(hours=_window_hours(leg, settings)), leg.end)
    )
    ok_from = limiting.end + timedelta(hours=_window_hours(limiting, settings))
    state.update(
        last_leg_activity_id=last.activity_id,
        last_leg_name=last.name,
        last_leg_end_utc=last.end,
        hours_since=(as_of - last.end).total_seconds() / 3600.0,
        heavy=last.heavy,
        unaccustomed=last.unaccustomed,
        leg_score=last.leg_score,
        window_hours=_window_hours(limiting, settings),
        intense_ok_from_utc=ok_from,
        limiting_leg_activity_id=limiting.activity_id,
        status="recovering" if as_of < ok_from else state["status"],
    )
    return state
