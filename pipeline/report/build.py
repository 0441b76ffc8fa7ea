"""The daily recovery report: one athlete, one local day, as a JSON-able dict, Markdown and JSON.

``build_report`` gathers what the rule engine produced (sessions, metrics, flags, the legs'
state, load context, the HR profile) for the local day ``[midnight, next midnight)`` in the
athlete's IANA zone, which lasts 23 or 25 h on DST days. It is pure: the caller passes
``generated_at`` and decides where the rendered text goes. Times appear twice, in local time
with its offset and in UTC. The JSON layout is versioned (``REPORT_SCHEMA_VERSION``) and
described by the JSON Schema ``schema.json`` next to this module; a change that removes
or renames a field needs a new major version. ``report_html.render_html`` draws the same dict.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.derive.recovery import EVIDENCE, SEVERITY_RANK, format_local
from pipeline.errors import ReportError

if TYPE_CHECKING:
    from pipeline.derive.metrics import HrProfile

REPORT_SCHEMA_VERSION = "1.1"  # 1.1 added "evidence"
#: The JSON Schema of ``render_json`` output (read it with ``json.loads(path.read_text())``).
REPORT_SCHEMA_PATH = Path(__file__).with_name("schema.json")

_WIDTH = 96  # Markdown text wraps here so the report reads in an 80-100 column terminal.

LOAD_LABEL = (
    "Context only: systemic training load from heart rate. It does not decide the flags, "
    "which look at leg sessions and run intensity."
)


def day_bounds(local_date: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight and the next local midnight (23 h or 25 h on DST days)."""
    start = datetime.combine(local_date, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def stamp(ts: datetime | None, tz: tzinfo) -> dict[str, str] | None:
    """``{"local": ISO with offset, "utc": ISO with Z}``, or None."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise ReportError(f"naive timestamp {ts.isoformat()} in report input; expected UTC")
    return {
        "local": ts.astimezone(tz).isoformat(timespec="seconds"),
        "utc": ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def zone_bounds(profile: HrProfile, model: str) -> list[dict[str, Any]]:
    """Z1..Z5 of ``model`` as bpm ranges, from the floors ``metrics`` counts zones with.

    Z5 tops out at HR max; Z1 also holds the time below its floor (as ``session_metrics``
    counts it), so a plot may extend it down to zero.
    """
    try:
        floors = [round(f) for f in profile.zone_floors(model)]
    except ValueError as exc:
        raise ReportError(str(exc)) from exc
    tops = [*floors[1:], max(int(profile.max_hr), floors[-1] + 1)]
    return [
        {"zone": f"Z{i + 1}", "low_bpm": int(floors[i]), "high_bpm": int(tops[i])} for i in range(5)
    ]


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


def _session_entry(
    row: Mapping[str, Any], m: Mapping[str, Any], tz: tzinfo, severity: str | None
) -> dict[str, Any]:
    start: datetime = row["start_utc"]
    end: datetime | None = row.get("end_utc")
    duration = _num(row.get("elapsed_s"))
    if duration is None and end is not None:
        duration = round((end - start).total_seconds(), 2)
    zones = [_num(m.get(f"z{i}_s")) for i in range(1, 6)]
    zone_minutes = (
        None if all(z is None for z in zones) else [round((z or 0.0) / 60, 1) for z in zones]
    )
    z4 = _num(m.get("z4plus_s"))
    return {
        "activity_id": str(row["activity_id"]),
        "kind": str(row["kind"]),
        "name": _display_name(row),
        "sport": _str(row.get("sport")),
        "sub_sport": _str(row.get("sub_sport")),
        "start": stamp(start, tz),
        "end": stamp(end, tz),
        "duration_s": duration,
        "distance_m": _num(row.get("distance_m"), 1),
        "avg_hr": _num(m.get("avg_hr"), 1)
        if m.get("avg_hr") is not None
        else _num(row.get("avg_hr"), 1),
        "peak_hr": _int(m.get("peak_hr"))
        if m.get("peak_hr") is not None
        else _int(row.get("max_hr")),
        "trimp": _num(m.get("trimp_banister"), 1),
        "zone_minutes": zone_minutes,
        "z4plus_minutes": None if z4 is None else round(z4 / 60, 1),
        "intensity": _str(row.get("intensity")) or _str(m.get("intensity")),
        "intensity_reason": _str(m.get("intensity_reason")),
        "heavy": row.get("heavy") if row["kind"] in ("leg_strength", "strength") else None,
        "leg_score": _num(row.get("leg_score"), 1)
        if row["kind"] in ("leg_strength", "strength")
        else None,
        "classification_reason": _str(row.get("reason")),
        "flag_severity": severity,
    }


def _legs_entry(legs: Mapping[str, Any], tz: tzinfo) -> dict[str, Any]:
    return {
        "status": str(legs.get("status", "ready")),
        "as_of": stamp(legs.get("as_of_utc"), tz),
        "last_leg_activity_id": legs.get("last_leg_activity_id"),
        "last_leg_name": legs.get("last_leg_name"),
        "last_leg_end": stamp(legs.get("last_leg_end_utc"), tz),
        "hours_since": _num(legs.get("hours_since"), 1),
        "heavy": legs.get("heavy"),
        "unaccustomed": legs.get("unaccustomed"),
        "leg_score": _num(legs.get("leg_score"), 1),
        "window_hours": _num(legs.get("window_hours"), 1),
        "intense_ok_from": stamp(legs.get("intense_ok_from_utc"), tz),
        "limiting_leg_activity_id": legs.get("limiting_leg_activity_id"),
    }


def _load_entry(load: Mapping[str, Any]) -> dict[str, Any]:
    band = load.get("acwr_band")
    return {
        "label": LOAD_LABEL,
        "trimp_7d": _num(load.get("trimp_7d"), 1),
        "trimp_28d": _num(load.get("trimp_28d"), 1),
        "ctl": _num(load.get("ctl"), 1),
        "atl": _num(load.get("atl"), 1),
        "tsb": _num(load.get("tsb"), 1),
        "acwr": _num(load.get("acwr"), 2),
        "acwr_band": band if isinstance(band, str) else None,
        "method": _str(load.get("method")),
    }


def evidence_entries(flags: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The evidence keys the flags cite (``"S2, S3"``), each once with its citation, S1 first."""
    keys = {k.strip() for f in flags for k in str(f.get("evidence") or "").split(",") if k.strip()}

    def order(key: str) -> tuple[int, str]:
        digits = key[1:]
        return (int(digits) if digits.isdigit() else 10**6, key)

    out = []
    for key in sorted(keys, key=order):
        ev = EVIDENCE.get(key)
        out.append(
            {
                "key": key,
                "citation": ev.citation if ev else "not in legday's list of evidence",
                "finding": ev.finding if ev else "",
            }
        )
    return out


def _is_partial(item: Mapping[str, Any]) -> bool:
    """A ``partial`` file was stored (with something lost); anything else passed was not."""
    return item.get("status") == "partial"


#: The two kinds of "files to look at", as the report names them (md, html and the artifact).
LOOK_AT_HEADINGS = {
    "quarantined": "Quarantined: not stored",
    "partial": "Partial: stored, with something lost",
}


def files_to_look_at(report: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(kind, heading, one line per file) of the report's files to look at, kinds with files only.

    Each says where it was seen last (the inbox's quarantine or archive folder once filed, so a
    person can find it) and, in its message, what is wrong or what was lost. Shared by the
    Markdown and the HTML.
    """
    out = []
    for kind in ("quarantined", "partial"):
        lines = []
        for q in report.get(kind) or []:
            label = q.get("file") or q.get("path") or q.get("file_sha256") or "file"
            reason = q.get("reason_code") or q.get("reason") or "unknown"
            text = f"`{label}`: {reason}" + (f" — {q['message']}" if q.get("message") else "")
            if q.get("location"):
                text += f" (last seen at {q['location']})"
            lines.append(text)
        if lines:
            out.append((kind, LOOK_AT_HEADINGS[kind], lines))
    return out


def _quarantine_entry(item: Mapping[str, Any]) -> dict[str, str | float | int | bool | None]:
    out: dict[str, str | float | int | bool | None] = {}
    for key, value in item.items():
        if value is None or isinstance(value, str | int | float | bool):
            out[str(key)] = value
        elif isinstance(value, datetime):
            out[str(key)] = value.isoformat()
        else:
            out[str(key)] = str(value)
    return out


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
) -> dict[str, Any]:
    """The report of ``local_date`` as a JSON-able dict (layout: ``schema.json``).

    ``sessions`` is the recovery frame (any span; the day is cut here), ``metrics`` one row per
    activity from ``session_metrics``, ``flags`` from ``recovery_flags`` (the flags of runs that
    started this day are kept), ``legs`` from ``legs_state`` at the end of the day, ``load``
    from ``load_context``. Optional session columns used when present: ``elapsed_s``,
    ``distance_m``, ``avg_hr``, ``max_hr``, ``reason`` (the classification's).
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
    flag_entries: list[dict[str, Any]] = []
    for f in day_flags.to_dicts():
        flag_entries.append(
            {
                "flag_id": f["flag_id"],
                "severity": f["severity"],
                "rule": f["rule"],
                "evidence": f.get("evidence"),
                "message": f["message"],
                "run_activity_id": f["run_activity_id"],
                "run_name": names.get(f["run_activity_id"], f["run_activity_id"]),
                "run_start": stamp(f["start_utc"], tz),
                "run_intensity": f["run_intensity"],
                "leg_activity_id": f["leg_activity_id"],
                "leg_name": names.get(f["leg_activity_id"], f["leg_activity_id"]),
                "leg_end": stamp(f["leg_end_utc"], tz),
                "hours_between": _num(f["hours_between"], 2),
                "threshold_hours": _num(f.get("threshold_hours"), 1),
                "leg_heavy": bool(f["leg_heavy"]),
                "leg_unaccustomed": bool(f["leg_unaccustomed"]),
                "intense_ok_from": stamp(f.get("intense_ok_from_utc"), tz),
            }
        )
    flag_entries.sort(key=lambda e: (-SEVERITY_RANK[e["severity"]], e["run_start"]["utc"]))
    severity_of = {e["run_activity_id"]: e["severity"] for e in flag_entries}

    by_id = {str(r["activity_id"]): r for r in metrics.to_dicts()} if metrics.height else {}
    session_entries = [
        _session_entry(
            r, by_id.get(str(r["activity_id"]), {}), tz, severity_of.get(str(r["activity_id"]))
        )
        for r in day_sessions.to_dicts()
    ]

    counts = {sev: sum(1 for e in flag_entries if e["severity"] == sev) for sev in SEVERITY_RANK}
    worst = max((e["severity"] for e in flag_entries), key=SEVERITY_RANK.__getitem__, default=None)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "athlete": {"id": athlete_id, "name": athlete_name, "timezone": tz.key},
        "date": local_date.isoformat(),
        "day": {
            "start": stamp(day_start, tz),
            "end": stamp(day_end, tz),
            "hours": round((day_end - day_start).total_seconds() / 3600, 2),
        },
        "generated_at": stamp(generated_at, tz),
        "summary": {
            "worst_severity": worst,
            "alerts": counts["alert"],
            "warnings": counts["warning"],
            "infos": counts["info"],
            "sessions": len(session_entries),
            "runs": sum(1 for s in session_entries if s["kind"] == "run"),
            "leg_sessions": sum(1 for s in session_entries if s["kind"] == "leg_strength"),
        },
        "flags": flag_entries,
        "evidence": evidence_entries(flag_entries),
        "sessions": session_entries,
        "legs": _legs_entry(legs, tz),
        "load_context": _load_entry(load),
        "hr_profile": {
            "max_hr": int(profile.max_hr),
            "max_hr_source": profile.max_hr_source,
            "resting_hr": int(profile.resting_hr),
            "resting_hr_source": profile.resting_hr_source,
            "lthr": int(profile.lthr),
            "lthr_source": profile.lthr_source,
            "sex": profile.sex,
            "zone_model": zone_model,
            "zones": zone_bounds(profile, zone_model),
        },
        # Not stored and stored-with-a-loss are told apart (a partial file is not quarantined).
        "quarantined": [_quarantine_entry(q) for q in (quarantined or []) if not _is_partial(q)],
        "partial": [_quarantine_entry(q) for q in (quarantined or []) if _is_partial(q)],
    }


def render_json(report: Mapping[str, Any]) -> str:
    """Stable JSON: sorted keys, two-space indent, UTF-8 text, trailing newline."""
    return json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --- Markdown ---------------------------------------------------------------------------------


def parse_stamp(s: Mapping[str, str] | None, tz: tzinfo) -> datetime | None:
    """A report timestamp back as an aware datetime in ``tz`` (zone names, not bare offsets)."""
    return None if s is None else datetime.fromisoformat(s["utc"]).astimezone(tz)


def report_tz(report: Mapping[str, Any]) -> ZoneInfo:
    return ZoneInfo(report["athlete"]["timezone"])


def when(s: Mapping[str, str] | None, tz: tzinfo) -> str:
    """``Sun 25 Oct 18:40 CET (17:40 UTC)``."""
    ts = parse_stamp(s, tz)
    if ts is None:
        return "—"
    return f"{format_local(ts, tz)} ({ts.astimezone(UTC):%H:%M} UTC)"


def _hm(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _fmt(value: float | int | None, spec: str = ".1f", unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def _cell(text: str, width: int) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    sep = ["-" * (w - 1) + (":" if i in right else "-") for i, w in enumerate(widths)]
    return [line(header), line(sep), *(line(r) for r in rows)]


_GLUE = re.compile(r"\d (?:h|min|bpm|km|d|kg|UTC)\b|\bZ\d \d")


def _wrap(text: str, bullet: str = "- ") -> list[str]:
    """Wrap at ``_WIDTH`` without splitting a number from its unit ("72 h", "Z5 4.9")."""
    glued = _GLUE.sub(lambda m: m.group(0).replace(" ", "\x00"), text)
    lines = textwrap.wrap(
        glued, _WIDTH, initial_indent=bullet, subsequent_indent=" " * len(bullet)
    ) or [bullet]
    return [line.replace("\x00", " ") for line in lines]


def headline(report: Mapping[str, Any]) -> str:
    """One sentence: how many flags of which severity, or that there are none."""
    s = report["summary"]
    parts = [
        f"{n} {label}{'s' if n != 1 else ''}"
        for n, label in ((s["alerts"], "alert"), (s["warnings"], "warning"), (s["infos"], "info"))
        if n
    ]
    if not parts:
        return "No flags: no run this day started too soon after a leg session."
    return "Flags: " + ", ".join(parts) + "."


def legs_sentence(legs: Mapping[str, Any], tz: tzinfo) -> str:
    """The legs' state at the end of the day as a sentence."""
    if legs["last_leg_end"] is None:
        return "No leg session on record before the end of this day: legs are ready."
    kind = " and ".join(k for k in ("heavy", "unaccustomed") if legs.get(k)) or "not heavy"
    text = (
        f"Last leg session: {legs['last_leg_name']} ({kind}), "
        f"ended {when(legs['last_leg_end'], tz)}, "
        f"{_fmt(legs['hours_since'])} h before the end of the day. "
    )
    if legs["status"] == "recovering":
        text += (
            f"Status: RECOVERING ({_fmt(legs['window_hours'], 'g')} h window) — intense running "
            f"advised from {when(legs['intense_ok_from'], tz)}."
        )
    else:
        text += f"Status: READY for intense running since {when(legs['intense_ok_from'], tz)}."
    return text


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown that also reads well as plain text in an 80-100 column terminal."""
    athlete = report["athlete"]
    who = athlete["name"] or athlete["id"]
    tz = report_tz(report)
    day = date.fromisoformat(report["date"])
    out: list[str] = [f"# Recovery report: {who}, {day:%a %d %b %Y}", ""]
    dst = (
        "" if report["day"]["hours"] == 24 else f" (a {report['day']['hours']:g} h day: DST change)"
    )
    out += _wrap(
        f"Athlete `{athlete['id']}` · time zone {athlete['timezone']}{dst} · "
        f"generated {when(report['generated_at'], tz)}",
        "",
    )
    out += ["", f"**{headline(report)}**", ""]

    out += [f"## Flags ({len(report['flags'])})", ""]
    if not report["flags"]:
        out += ["None.", ""]
    for f in report["flags"]:
        out += _wrap(f"**{f['severity'].upper()}** `{f['rule']}` ({f['evidence']}): {f['message']}")
    if report["flags"]:
        out.append("")
    evidence = report.get("evidence") or []
    if evidence:
        out += ["Evidence keys cited above:", ""]
        for ev in evidence:
            finding = f" — {ev['finding']}" if ev["finding"] else ""
            out += _wrap(f"{ev['key']}: {ev['citation']}{finding}.")
        out.append("")

    out += ["## Legs at the end of the day", ""]
    out += [*_wrap(legs_sentence(report["legs"], tz), ""), ""]

    out += [f"## Sessions ({len(report['sessions'])})", ""]
    if not report["sessions"]:
        out += ["No sessions this day.", ""]
    else:
        rows = []
        for s in report["sessions"]:
            start = parse_stamp(s["start"], tz)
            detail = s["intensity"] or ("heavy" if s["heavy"] else "") or "—"
            rows.append(
                [
                    f"{start:%H:%M}" if start else "—",
                    s["kind"],
                    _cell(s["name"], 22),
                    detail + (f" [{s['flag_severity']}]" if s["flag_severity"] else ""),
                    _hm(s["duration_s"]),
                    _fmt(None if s["distance_m"] is None else s["distance_m"] / 1000, ".2f"),
                    _fmt(s["avg_hr"], ".0f"),
                    _fmt(s["trimp"]),
                ]
            )
        out += _table(
            ["Start", "Kind", "Session", "Intensity", "h:mm", "km", "Avg HR", "TRIMP"],
            rows,
            right={4, 5, 6, 7},
        )
        out.append("")
        model = report["hr_profile"]["zone_model"]
        for s in report["sessions"]:
            start = parse_stamp(s["start"], tz)
            bits = []
            if s["zone_minutes"] is not None:
                zones = " · ".join(f"Z{i + 1} {m:.1f}" for i, m in enumerate(s["zone_minutes"]))
                bits.append(f"minutes in zones ({model}): {zones}")
            if s["intensity_reason"]:
                bits.append(f"intensity: {s['intensity_reason']}")
            if s["leg_score"] is not None:
                bits.append(f"leg score {s['leg_score']:.1f}")
            if s["classification_reason"]:
                bits.append(f"classified: {s['classification_reason']}")
            if bits:
                out += _wrap(f"{start:%H:%M} {s['name']} — " + "; ".join(bits) + ".")
        out.append("")

    load = report["load_context"]
    out += ["## Load context (for context only)", ""]
    out += [*_wrap(load["label"], ""), ""]
    acwr = _fmt(load["acwr"], ".2f") + (f" ({load['acwr_band']})" if load["acwr_band"] else "")
    out += _table(
        ["TRIMP 7 d", "TRIMP 28 d", "CTL (fitness)", "ATL (fatigue)", "TSB (form)", "ACWR 7:28"],
        [[_fmt(load[k]) for k in ("trimp_7d", "trimp_28d", "ctl", "atl", "tsb")] + [acwr]],
        right=set(range(6)),
    )
    if load["method"]:
        out += ["", *_wrap(f"Method: {load['method']}", "")]
    out.append("")

    hr = report["hr_profile"]
    out += ["## Heart-rate profile", ""]
    out += _wrap(
        f"HR max {hr['max_hr']} bpm (source: {hr['max_hr_source']}) · resting {hr['resting_hr']} "
        f"bpm ({hr['resting_hr_source']}) · LTHR {hr['lthr']} bpm ({hr['lthr_source']}).",
        "",
    )
    zones = " · ".join(f"{z['zone']} {z['low_bpm']}–{z['high_bpm']}" for z in hr["zones"])
    out += _wrap(f"Zones ({hr['zone_model']} model, bpm): {zones}.", "")
    out.append("")

    look_at = files_to_look_at(report)
    if look_at:
        total = sum(len(lines) for _k, _h, lines in look_at)
        out += [f"## Files to look at ({total})", ""]
        for _kind, heading, lines in look_at:
            out += [f"### {heading} ({len(lines)})", ""]
            for line in lines:
                out += _wrap(line)
            out.append("")

    out.append(f"_legday report schema {report['schema_version']}._")
    return "\n".join(out) + "\n"
