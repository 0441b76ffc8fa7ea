"""The report as Markdown that also reads well as plain text in an 80-100 column terminal. Pure.

Python rather than a template: most of the work is wrapping at ``WIDTH`` without splitting a
number from its unit and padding table columns, which a template would only call back into.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from pipeline.report import sections as sc
from pipeline.report.model import Report, SessionEntry
from pipeline.report.text import fmt, headline, known_lines, legs_sentence, settle_line, when

WIDTH = 96  # Markdown text wraps here so the report reads in an 80-100 column terminal.

_GLUE = re.compile(r"\d (?:h|min|bpm|km|d|kg|UTC)\b|\bZ\d \d")


def _wrap(text: str, bullet: str = "- ") -> list[str]:
    """Wrap at ``WIDTH`` without splitting a number from its unit ("72 h", "Z5 4.9")."""
    glued = _GLUE.sub(lambda m: m.group(0).replace(" ", "\x00"), text)
    lines = textwrap.wrap(
        glued, WIDTH, initial_indent=bullet, subsequent_indent=" " * len(bullet)
    ) or [bullet]
    return [line.replace("\x00", " ") for line in lines]


def _hm(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


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


def _flags(report: Report) -> list[str]:
    out = [f"## Flags ({len(report.flags)})", ""]
    if not report.flags:
        out += ["None.", ""]
    for f in report.flags:
        out += _wrap(f"**{f.severity.upper()}** `{f.rule}` ({f.evidence}): {f.message}")
    if report.flags:
        out.append("")
    if report.evidence:
        out += ["Evidence keys cited above:", ""]
        for ev in report.evidence:
            finding = f" — {ev.finding}" if ev.finding else ""
            out += _wrap(f"{ev.key}: {ev.citation}{finding}.")
        out.append("")
    return out


def _session_row(s: SessionEntry) -> list[str]:
    detail = s.intensity or ("heavy" if s.heavy else "") or "—"
    return [
        f"{s.start:%H:%M}",
        s.kind,
        _cell(s.name, 22),
        detail + (f" [{s.flag_severity}]" if s.flag_severity else ""),
        _hm(s.duration_s),
        fmt(None if s.distance_m is None else s.distance_m / 1000, ".2f"),
        fmt(s.avg_hr, ".0f"),
        fmt(s.trimp),
    ]


def _session_notes(s: SessionEntry, model: str) -> list[str]:
    bits = []
    if s.zone_minutes is not None:
        zones = " · ".join(f"Z{i + 1} {m:.1f}" for i, m in enumerate(s.zone_minutes))
        bits.append(f"minutes in zones ({model}): {zones}")
    if s.intensity_reason:
        bits.append(f"intensity: {s.intensity_reason}")
    if s.leg_score is not None:
        bits.append(f"leg score {s.leg_score:.1f}")
    if s.classification_reason:
        bits.append(f"classified: {s.classification_reason}")
    return _wrap(f"{s.start:%H:%M} {s.name} — " + "; ".join(bits) + ".") if bits else []


def _sessions(report: Report) -> list[str]:
    out = [f"## Sessions ({len(report.sessions)})", ""]
    if not report.sessions:
        return [*out, "No sessions this day.", ""]
    out += _table(
        ["Start", "Kind", "Session", "Intensity", "h:mm", "km", "Avg HR", "TRIMP"],
        [_session_row(s) for s in report.sessions],
        right={4, 5, 6, 7},
    )
    out.append("")
    for s in report.sessions:
        out += _session_notes(s, report.hr_profile.zone_model)
    return [*out, ""]


def _load(report: Report) -> list[str]:
    load = report.load_context
    out = ["## Load context (for context only)", "", *_wrap(load.label, ""), ""]
    acwr = fmt(load.acwr, ".2f") + (f" ({load.acwr_band})" if load.acwr_band else "")
    out += _table(
        ["TRIMP 7 d", "TRIMP 28 d", "CTL (fitness)", "ATL (fatigue)", "TSB (form)", "ACWR 7:28"],
        [[fmt(v) for v in (load.trimp_7d, load.trimp_28d, load.ctl, load.atl, load.tsb)] + [acwr]],
        right=set(range(6)),
    )
    if load.method:
        out += ["", *_wrap(f"Method: {load.method}", "")]
    return [*out, ""]


def _hr_profile(report: Report) -> list[str]:
    hr = report.hr_profile
    out = ["## Heart-rate profile", ""]
    out += _wrap(
        f"HR max {hr.max_hr} bpm (source: {hr.max_hr_source}) · resting {hr.resting_hr} "
        f"bpm ({hr.resting_hr_source}) · LTHR {hr.lthr} bpm ({hr.lthr_source}).",
        "",
    )
    zones = " · ".join(f"{z.zone} {z.low_bpm}–{z.high_bpm}" for z in hr.zones)
    return [*out, *_wrap(f"Zones ({hr.zone_model} model, bpm): {zones}.", ""), ""]


def _files(report: Report) -> list[str]:
    groups = report.files_to_look_at()
    if not groups:
        return []
    out = [f"## Files to look at ({sum(len(g.lines) for g in groups)})", ""]
    for g in groups:
        out += [f"### {g.heading} ({len(g.lines)})", ""]
        for line in g.lines:
            out += _wrap(line)
        out.append("")
    return out


def _leg_fatigue(report: Report) -> list[str]:
    f = report.leg_fatigue
    if f is None:
        return []
    out = ["## Legs as a curve", "", *_wrap(sc.fatigue_sentence(f, when), "")]
    if f.levels:
        out += ["", *_wrap(f"Levels (threshold {f.threshold:g}): {sc.levels_line(f)}.", "")]
    return [*out, ""]


def _coming_up(report: Report) -> list[str]:
    c = report.coming_up
    if c is None:
        return []
    out = ["## Coming up", "", *_wrap(sc.coming_up_sentence(c), ""), ""]
    for conflict in c.conflicts:
        out += _wrap(f"**{conflict.severity.upper()}** " + sc.conflict_line(conflict, when))
    return [*out, ""] if c.conflicts else out


def _runs_evidence(report: Report) -> list[str]:
    e = report.runs_evidence
    if e is None:
        return []
    out = ["## What your runs say", "", *_wrap(sc.evidence_intro(e), ""), ""]
    for measure in sc.MEASURE_WORDS:
        rows = [r for r in e.rows if r.measure == measure.value]
        out += [f"**{sc.measure_words(measure.value)}**", ""]
        out += _table(
            ["Hours since legs", "Runs", "Baseline runs", "Difference [interval]", "Verdict"],
            [
                [r.bucket, str(r.n), str(r.baseline_n), sc.difference_text(r), r.verdict]
                for r in rows
            ],
            right={1, 2},
        )
        out.append("")
    for line in sc.suggestion_lines(e):
        out += _wrap(line)
    return [*out, ""]


def _settle(report: Report) -> list[str]:
    """Possible leg sessions to settle, and how much is known: only when there is something."""
    out: list[str] = []
    if report.sessions_to_settle:
        out += [f"## Sessions to settle ({len(report.sessions_to_settle)})", ""]
        for s in report.sessions_to_settle:
            out += _wrap(settle_line(s))
        out.append("")
    if report.known is not None:
        out += ["## How much is known", ""]
        for line in known_lines(report.known):
            out += _wrap(line)
        out.append("")
    return out


def render_markdown(report: Report) -> str:
    """The report as Markdown: headline, flags, legs (state, curve), coming up, sessions, load,
    HR profile, files, what the runs say."""
    athlete = report.athlete
    out: list[str] = [
        f"# Recovery report: {athlete.name or athlete.id}, {report.date:%a %d %b %Y}",
        "",
    ]
    hours = report.day.hours
    dst = "" if hours == 24 else f" (a {hours:g} h day: DST change)"
    out += _wrap(
        f"Athlete `{athlete.id}` · time zone {athlete.timezone}{dst} · "
        f"generated {when(report.generated_at)}",
        "",
    )
    out += ["", f"**{headline(report)}**", ""]
    out += _flags(report)
    out += ["## Legs at the end of the day", "", *_wrap(legs_sentence(report.legs), ""), ""]
    out += _leg_fatigue(report)
    out += _coming_up(report)
    out += _settle(report)
    out += _sessions(report)
    out += _load(report)
    out += _hr_profile(report)
    out += _files(report)
    out += _runs_evidence(report)
    out.append(f"_legday report schema {report.schema_version}._")
    return "\n".join(out) + "\n"
