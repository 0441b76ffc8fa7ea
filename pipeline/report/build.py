"""Building the daily report: the rule engine's frames for one local day -> a typed ``Report``.

``build_report`` gathers what the rule engine produced (sessions, metrics, flags, the legs'
state, load context, the HR profile) for the local day ``[midnight, next midnight)`` in the
athlete's IANA zone, which lasts 23 or 25 h on DST days. Numbers are rounded here, once, to
what every format shows. Pure: the caller passes ``generated_at``; rendering is
``model.render_json``, ``markdown.render_markdown`` and ``html.render_html``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.derive.known import KnownCounts
from pipeline.derive.possible_legs import PossibleLegSession
from pipeline.derive.recovery import EVIDENCE, SEVERITY_RANK, Severity
from pipeline.errors import ReportError
from pipeline.report.model import (
    Athlete,
    Day,
    EvidenceLine,
    FileToLookAt,
    Flag,
    HrProfileEntry,
    JsonScalar,
    Known,
    LegsState,
    Load,
    Report,
    SessionEntry,
    SessionToSettle,
    SettleCommand,
    Summary,
    Zone,
)
from pipeline.report.sections import ComingUp, LegFatigue, RunsEvidence

if TYPE_CHECKING:
    from pipeline.derive.metrics import HrProfile

STRENGTH_KINDS = ("leg_strength", "strength")  # the kinds whose heaviness and leg score show


def day_bounds(local_date: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight and the next local midnight (23 h or 25 h on DST days)."""
    start = datetime.combine(local_date, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _local(ts: datetime, tz: tzinfo) -> datetime:
    """The instant in the athlete's zone, cut to whole seconds as the JSON stamps show it."""
    if ts.tzinfo is None:
        raise ReportError(f"naive timestamp {ts.isoformat()} in report input; expected UTC")
    return ts.astimezone(tz).replace(microsecond=0)


def _local_or_none(ts: datetime | None, tz: tzinfo) -> datetime | None:
    return None if ts is None else _local(ts, tz)


def zone_bounds(profile: HrProfile, model: str) -> tuple[Zone, ...]:
    """Z1..Z5 of ``model`` as bpm ranges, from the floors ``metrics`` counts zones with.

    Z5 tops out at HR max; Z1 also holds the time below its floor (as ``session_metrics``
    counts it), so a plot may extend it down to zero.
    """
    try:
        floors = [round(f) for f in profile.zone_floors(model)]
    except ValueError as exc:
        raise ReportError(str(exc)) from exc
    tops = [*floors[1:], max(int(profile.max_hr), floors[-1] + 1)]
    return tuple(Zone(f"Z{i + 1}", int(floors[i]), int(tops[i])) for i in range(5))


def _num(value: object, digits: int = 2) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else round(f, digits)
    return None


def _int(value: object) -> int | None:
    f = _num(value, 0)
    return None if f is None else int(f)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _utc_col(df: pl.DataFrame, col: str) -> pl.DataFrame:
    dtype = df.schema.get(col)
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise ReportError(f"column {col} must be a tz-aware Datetime, got {dtype}")
    return df.with_columns(pl.col(col).dt.convert_time_zone("UTC"))


def _display_name(row: Mapping[str, Any]) -> str:
    name = _str(row.get("name"))
    if name:
        return name.strip()
    sport = _str(row.get("sport")) or str(row.get("kind") or "session")
    label = sport.replace("_", " ").capitalize()
    sub = _str(row.get("sub_sport"))
    return f"{label}, {sub.replace('_', ' ')}" if sub and sub != "generic" else label


def _session(
    row: Mapping[str, Any], m: Mapping[str, Any], tz: tzinfo, severity: Severity | None
) -> SessionEntry:
    start: datetime = row["start_utc"]
    end: datetime | None = row.get("end_utc")
    duration = _num(row.get("elapsed_s"))
    if duration is None and end is not None:
        duration = round((end - start).total_seconds(), 2)
    zones = [_num(m.get(f"z{i}_s")) for i in range(1, 6)]
    z4 = _num(m.get("z4plus_s"))
    strength = row["kind"] in STRENGTH_KINDS
    return SessionEntry(
        activity_id=str(row["activity_id"]),
        kind=str(row["kind"]),
        name=_display_name(row),
        sport=_str(row.get("sport")),
        sub_sport=_str(row.get("sub_sport")),
        start=_local(start, tz),
        end=_local_or_none(end, tz),
        duration_s=duration,
        distance_m=_num(row.get("distance_m"), 1),
        # The metrics' numbers (from the HR samples) before the device's session summary.
        avg_hr=_num(m["avg_hr"] if m.get("avg_hr") is not None else row.get("avg_hr"), 1),
        peak_hr=_int(m["peak_hr"] if m.get("peak_hr") is not None else row.get("max_hr")),
        trimp=_num(m.get("trimp_banister"), 1),
        zone_minutes=None
        if all(z is None for z in zones)
        else tuple(round((z or 0.0) / 60, 1) for z in zones),
        z4plus_minutes=None if z4 is None else round(z4 / 60, 1),
        intensity=_str(row.get("intensity")) or _str(m.get("intensity")),
        intensity_reason=_str(m.get("intensity_reason")),
        heavy=row.get("heavy") if strength else None,
        leg_score=_num(row.get("leg_score"), 1) if strength else None,
        classification_reason=_str(row.get("reason")),
        flag_severity=severity,
    )


def _legs(legs: Mapping[str, Any], tz: tzinfo) -> LegsState:
    return LegsState(
        status=str(legs.get("status", "ready")),
        as_of=_local_or_none(legs.get("as_of_utc"), tz),
        last_leg_activity_id=legs.get("last_leg_activity_id"),
        last_leg_name=legs.get("last_leg_name"),
        last_leg_end=_local_or_none(legs.get("last_leg_end_utc"), tz),
        hours_since=_num(legs.get("hours_since"), 1),
        heavy=legs.get("heavy"),
        unaccustomed=legs.get("unaccustomed"),
        leg_score=_num(legs.get("leg_score"), 1),
        window_hours=_num(legs.get("window_hours"), 1),
        intense_ok_from=_local_or_none(legs.get("intense_ok_from_utc"), tz),
        limiting_leg_activity_id=legs.get("limiting_leg_activity_id"),
        possible_leg_activity_ids=tuple(legs.get("possible_leg_activity_ids") or ()),
        possible_ok_from=_local_or_none(legs.get("possible_ok_from_utc"), tz),
    )


def _to_settle(
    found: Sequence[PossibleLegSession], day_runs: set[str], tz: tzinfo
) -> tuple[SessionToSettle, ...]:
    return tuple(
        SessionToSettle(
            activity_id=p.activity_id,
            name=p.name,
            start=_local(p.start_utc, tz),
            end=_local(p.end_utc, tz),
            why_unknown=p.why_unknown,
            commands=tuple(SettleCommand(c.kind, c.command, c.meaning) for c in p.commands),
            flagged_run_ids=tuple(r for r in p.flagged_runs if r in day_runs),
            inside_window=p.inside_window,
        )
        for p in found
    )


def _known(known: KnownCounts | None) -> Known | None:
    """The counts, shown only when not every strength session was identified by its own file
    (a day whose sessions all said what they were reads as before)."""
    if known is None or known.all_from_files:
        return None
    return Known(
        days=known.days,
        unknown_strength=known.unknown_strength,
        by_verdict=dict(known.by_verdict),
        by_evidence=dict(known.by_evidence),
        sentence=known.sentence(),
        setting_note=known.mode_sentence(),
    )


def _load(load: Mapping[str, Any]) -> Load:
    band = load.get("acwr_band")
    return Load(
        trimp_7d=_num(load.get("trimp_7d"), 1),
        trimp_28d=_num(load.get("trimp_28d"), 1),
        ctl=_num(load.get("ctl"), 1),
        atl=_num(load.get("atl"), 1),
        tsb=_num(load.get("tsb"), 1),
        acwr=_num(load.get("acwr"), 2),
        acwr_band=band if isinstance(band, str) else None,
        method=_str(load.get("method")),
    )


def _hr_profile(profile: HrProfile, zone_model: str) -> HrProfileEntry:
    return HrProfileEntry(
        max_hr=int(profile.max_hr),
        max_hr_source=profile.max_hr_source,
        resting_hr=int(profile.resting_hr),
        resting_hr_source=profile.resting_hr_source,
        lthr=int(profile.lthr),
        lthr_source=profile.lthr_source,
        sex=profile.sex,
        zone_model=zone_model,
        zones=zone_bounds(profile, zone_model),
    )


def evidence_lines(cited: Iterable[str | None]) -> tuple[EvidenceLine, ...]:
    """The keys the flags cite (each flag's ``"S2, S3"``), each once with its citation, S1 first."""
    keys = {k.strip() for text in cited for k in str(text or "").split(",") if k.strip()}

    def order(key: str) -> tuple[int, str]:
        digits = key[1:]
        return (int(digits) if digits.isdigit() else 10**6, key)

    out = []
    for key in sorted(keys, key=order):
        ev = EVIDENCE.get(key)
        citation = ev.citation if ev else "not in legday's list of evidence"
        out.append(EvidenceLine(key, citation, ev.finding if ev else ""))
    return tuple(out)


def _scalar(value: object) -> JsonScalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _file(item: Mapping[str, Any]) -> FileToLookAt:
    record = tuple((str(k), _scalar(v)) for k, v in item.items())
    rec = dict(record)
    message, location = rec.get("message"), rec.get("location")
    return FileToLookAt(
        label=str(rec.get("file") or rec.get("path") or rec.get("file_sha256") or "file"),
        reason=str(rec.get("reason_code") or rec.get("reason") or "unknown"),
        message=str(message) if message else None,
        location=str(location) if location else None,
        record=record,
    )


def _flag(f: Mapping[str, Any], names: Mapping[str, str], tz: tzinfo) -> Flag:
    return Flag(
        flag_id=f["flag_id"],
        severity=f["severity"],
        rule=f["rule"],
        evidence=f.get("evidence"),
        message=f["message"],
        run_activity_id=f["run_activity_id"],
        run_name=names.get(f["run_activity_id"], f["run_activity_id"]),
        run_start=_local(f["start_utc"], tz),
        run_intensity=f["run_intensity"],
        leg_activity_id=f["leg_activity_id"],
        leg_name=names.get(f["leg_activity_id"], f["leg_activity_id"]),
        leg_end=_local(f["leg_end_utc"], tz),
        hours_between=_num(f["hours_between"], 2),
        threshold_hours=_num(f.get("threshold_hours"), 1),
        leg_heavy=bool(f["leg_heavy"]),
        leg_unaccustomed=bool(f["leg_unaccustomed"]),
        intense_ok_from=_local_or_none(f.get("intense_ok_from_utc"), tz),
    )


def build_report(
    *,
    athlete_id: str,
    athlete_name: str | None,
    local_date: date,
    tz: ZoneInfo,
    sessions: pl.DataFrame,
    metrics: pl.DataFrame,
    flags: pl.DataFrame,
    legs: Mapping[str, Any],
    load: Mapping[str, Any],
    profile: HrProfile,
    generated_at: datetime,
    quarantined: Sequence[Mapping[str, Any]] | None,
    zone_model: str = "hrmax",
    coming_up: ComingUp | None = None,
    leg_fatigue: LegFatigue | None = None,
    runs_evidence: RunsEvidence | None = None,
    to_settle: Sequence[PossibleLegSession] = (),
    known: KnownCounts | None = None,
) -> Report:
    """The report of ``local_date``.

    ``sessions`` is the recovery frame (any span; the day is cut here), ``metrics`` one row per
    activity from ``session_metrics``, ``flags`` from ``recovery_flags`` (the flags of runs that
    started this day are kept), ``legs`` from ``legs_state`` at the end of the day, ``load``
    from ``load_context``, ``quarantined`` the files to look at (``status`` ``partial`` ones are
    told apart). Optional session columns used when present: ``elapsed_s``, ``distance_m``,
    ``avg_hr``, ``max_hr``, ``reason`` (the classification's). The sections of issues 13 and
    14 come built (``report.sections``); one left None is left out of every format.
    ``to_settle`` are the possible leg sessions that matter for the day
    (``possible_legs.sessions_to_settle``), ``known`` the counts of ``derive.known`` (shown only
    when some session was not identified by its file).
    """
    if generated_at.tzinfo is None:
        raise ReportError("generated_at must be tz-aware")
    day_start, day_end = day_bounds(local_date, tz)
    in_day = pl.col("start_utc").is_between(day_start, day_end, closed="left")

    day_sessions = _utc_col(sessions, "start_utc")
    if "end_utc" in day_sessions.columns:
        day_sessions = _utc_col(day_sessions, "end_utc")
    names = {str(r["activity_id"]): _display_name(r) for r in day_sessions.to_dicts()}
    day_sessions = day_sessions.filter(in_day).sort(["start_utc", "activity_id"])

    day_flags = flags.rename({"run_start_utc": "start_utc"})
    if day_flags.height:
        day_flags = _utc_col(day_flags, "start_utc")
    day_flags = day_flags.filter(in_day).sort(["start_utc", "flag_id"])
    flag_list = [_flag(f, names, tz) for f in day_flags.to_dicts()]
    flag_list.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.run_start))
    severity_of = {f.run_activity_id: f.severity for f in flag_list}

    by_id = {str(r["activity_id"]): r for r in metrics.to_dicts()} if metrics.height else {}
    session_list = tuple(
        _session(
            r, by_id.get(str(r["activity_id"]), {}), tz, severity_of.get(str(r["activity_id"]))
        )
        for r in day_sessions.to_dicts()
    )

    counts = {sev: sum(1 for f in flag_list if f.severity == sev) for sev in SEVERITY_RANK}
    worst = max((f.severity for f in flag_list), key=SEVERITY_RANK.__getitem__, default=None)
    files = list(quarantined or [])
    return Report(
        athlete=Athlete(athlete_id, athlete_name, tz.key),
        date=local_date,
        day=Day(
            start=_local(day_start, tz),
            end=_local(day_end, tz),
            hours=round((day_end - day_start).total_seconds() / 3600, 2),
        ),
        generated_at=_local(generated_at, tz),
        summary=Summary(
            worst_severity=worst,
            alerts=counts["alert"],
            warnings=counts["warning"],
            infos=counts["info"],
            sessions=len(session_list),
            runs=sum(1 for s in session_list if s.kind == "run"),
            leg_sessions=sum(1 for s in session_list if s.kind == "leg_strength"),
        ),
        flags=tuple(flag_list),
        evidence=evidence_lines(f.evidence for f in flag_list),
        sessions=session_list,
        legs=_legs(legs, tz),
        load_context=_load(load),
        hr_profile=_hr_profile(profile, zone_model),
        # Not stored and stored-with-a-loss are told apart (a partial file is not quarantined).
        quarantined=tuple(_file(q) for q in files if not _partial(q)),
        partial=tuple(_file(q) for q in files if _partial(q)),
        coming_up=coming_up,
        leg_fatigue=leg_fatigue,
        runs_evidence=runs_evidence,
        sessions_to_settle=_to_settle(to_settle, set(severity_of), tz),
        known=_known(known),
    )


def _partial(item: Mapping[str, Any]) -> bool:
    """A ``partial`` file was stored (with something lost); anything else passed was not."""
    return item.get("status") == "partial"
