"""The daily report as one self-contained HTML page: inline CSS, plots as inline SVG. Pure.

The page needs no network and no other file. Its structure is the template
``templates/report.html.j2`` (styles: ``templates/report.css``); this module hands it the
report, the sentences shared with the Markdown, and the figures drawn by ``figures``: the
heart-rate trace of each flagged run over the zone bands, a four-week timeline of sessions
by kind with flags drawn from the leg session to the run, and the legs' fatigue curve of the
last 7 days with the runs marked (``figures_legs``). The caller decides where the page
is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

import polars as pl
from markupsafe import Markup

from pipeline.derive.recovery import SEVERITY_RANK
from pipeline.report import palette
from pipeline.report import sections as sc
from pipeline.report.figures import Drawing, TimelineFlag, figure_style, hr_plot, timeline_plot
from pipeline.report.figures_legs import RunMark, curve_window, fatigue_plot
from pipeline.report.model import Flag, Report, SessionEntry
from pipeline.report.templating import finish, template
from pipeline.report.text import fmt, headline, known_lines, legs_sentence, settle_line, when


@dataclass(frozen=True)
class _Plot:
    """A flagged run's HR plot, or None when it has no samples to plot."""

    flag: Flag
    drawing: Drawing | None


def _svg_markup(d: Drawing) -> Drawing:
    # matplotlib's own SVG: inserted as it is, not escaped.
    return Drawing(Markup(d.wide), Markup(d.narrow))


def _colour(severity: str | None, default: str = palette.NEUTRAL_COLOUR) -> str:
    return palette.SEVERITY_COLOURS.get(str(severity), default)


def _hm(seconds: float | None) -> str:
    return "—" if seconds is None else f"{int(seconds // 3600)}:{round(seconds % 3600 / 60):02d}"


def _why(s: SessionEntry) -> str:
    """The second line of a session's row: why its intensity, leg score, classification."""
    score = None if s.leg_score is None else f"leg score {s.leg_score:.1f}"
    return "; ".join(x for x in (s.intensity_reason, score, s.classification_reason) if x)


def _load_cells(report: Report) -> list[tuple[str, str]]:
    load = report.load_context
    acwr = fmt(load.acwr, ".2f") + (f" ({load.acwr_band})" if load.acwr_band else "")
    return [
        ("TRIMP 7 d", fmt(load.trimp_7d)),
        ("TRIMP 28 d", fmt(load.trimp_28d)),
        ("CTL (fitness)", fmt(load.ctl)),
        ("ATL (fatigue)", fmt(load.atl)),
        ("TSB (form)", fmt(load.tsb)),
        ("ACWR 7:28", acwr),
    ]


def _timeline_flags(report: Report, frame: pl.DataFrame | None) -> list[TimelineFlag]:
    if frame is None:
        return [TimelineFlag(f.run_activity_id, f.severity, f.leg_end) for f in report.flags]
    return [
        TimelineFlag(str(r["run_activity_id"]), str(r["severity"]), r["leg_end_utc"])
        for r in frame.select("run_activity_id", "severity", "leg_end_utc").iter_rows(named=True)
    ]


def _run_marks(timeline: pl.DataFrame, flags: list[TimelineFlag]) -> list[RunMark]:
    """The runs of ``timeline`` with their strongest flag's severity (None: not flagged)."""
    worst: dict[str, str] = {}
    for f in flags:
        old = worst.get(f.run_activity_id)
        if old is None or SEVERITY_RANK.get(f.severity, 0) > SEVERITY_RANK.get(old, 0):
            worst[f.run_activity_id] = f.severity
    runs = timeline.filter(pl.col("kind") == "run")
    intensity = runs["intensity"] if "intensity" in runs.columns else [None] * runs.height
    return [
        RunMark(start, None if i is None else str(i), worst.get(str(aid)))
        for aid, start, i in zip(runs["activity_id"], runs["start_utc"], intensity, strict=True)
    ]


def _fatigue_drawing(
    report: Report, curve: pl.DataFrame | None, timeline: pl.DataFrame, flags: list[TimelineFlag]
) -> Drawing | None:
    f = report.leg_fatigue
    if f is None or curve is None or f.threshold is None:
        return None
    start, end = (t.astimezone(UTC) for t in curve_window(report.day))
    if curve.filter(pl.col("time_utc").is_between(start, end)).height == 0:
        return None
    marks = _run_marks(timeline, flags)
    return _svg_markup(fatigue_plot(report.day, report.tz, curve, f.threshold, marks, f.ready_at))


def _evidence_tables(report: Report) -> list[tuple[str, list[sc.EvidenceRow]]]:
    e = report.runs_evidence
    if e is None:
        return []
    return [
        (sc.measure_words(m.value), [r for r in e.rows if r.measure == m.value])
        for m in sc.MEASURE_WORDS
    ]


def render_html(
    report: Report,
    hr_traces: Mapping[str, pl.DataFrame],
    timeline: pl.DataFrame,
    *,
    timeline_flags: pl.DataFrame | None = None,
    fatigue_curve: pl.DataFrame | None = None,
) -> str:
    """The report as a self-contained HTML page.

    ``hr_traces`` maps a run's activity_id to its samples (``ts`` UTC, ``bpm``); flagged runs
    without samples get a note instead of a plot. ``timeline`` holds the sessions of the last
    four weeks (``activity_id, kind, start_utc, intensity, heavy``); ``timeline_flags`` are
    the ``recovery_flags`` rows to draw on it (default: the report's own flags).
    ``fatigue_curve`` (``time_utc, region, fatigue``) is drawn over the 7 days up to the end of
    the day with the timeline's runs marked, when the report has its ``leg_fatigue``.
    """
    plots: list[_Plot] = []
    with figure_style():
        for f in report.flags:
            trace = hr_traces.get(f.run_activity_id)
            # Samples without a readable time cannot be placed on the minutes axis.
            trace = None if trace is None else trace.drop_nulls(["ts", "bpm"])
            if trace is None or trace.height == 0:
                plots.append(_Plot(f, None))
            else:
                d = hr_plot(f.flag_id, f.run_start, trace, report.hr_profile.zones)
                plots.append(_Plot(f, _svg_markup(d)))
        tl_flags = _timeline_flags(report, timeline_flags)
        tl = timeline_plot(report.day, report.tz, timeline, tl_flags)
        legs_plot = _fatigue_drawing(report, fatigue_curve, timeline, tl_flags)
    files = report.files_to_look_at()
    page = template("report.html.j2").render(
        report=report,
        who=report.athlete.name or report.athlete.id,
        generated=when(report.generated_at),
        headline=headline(report),
        legs=legs_sentence(report.legs),
        legs_colour=palette.OK_COLOUR
        if report.legs.status == "ready"
        else palette.RECOVERING_COLOUR,
        settle=[settle_line(s) for s in report.sessions_to_settle],
        known=known_lines(report.known) if report.known else [],
        plots=plots,
        timeline=_svg_markup(tl),
        legs_plot=legs_plot,
        fatigue_text=None
        if report.leg_fatigue is None
        else sc.fatigue_sentence(report.leg_fatigue, when),
        coming_up_text=None
        if report.coming_up is None
        else sc.coming_up_sentence(report.coming_up),
        conflict_line=lambda c: sc.conflict_line(c, when),
        region_words=sc.REGION_WORDS,
        evidence_tables=_evidence_tables(report),
        evidence_intro=None
        if report.runs_evidence is None
        else sc.evidence_intro(report.runs_evidence),
        suggestions=[]
        if report.runs_evidence is None
        else sc.suggestion_lines(report.runs_evidence),
        difference=sc.difference_text,
        load=_load_cells(report),
        files=files,
        files_total=sum(len(g.lines) for g in files),
        palette=palette,
        colour=_colour,
        hm=_hm,
        why=_why,
    )
    return finish(page)
