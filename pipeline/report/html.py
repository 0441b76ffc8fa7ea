"""The daily report as one self-contained HTML page: inline CSS, plots as inline SVG.

The page needs no network and no other file: styles are inline, plots are drawn with
matplotlib's Agg/SVG backends and embedded as ``<svg>`` elements, and every piece of text from
the data is escaped with ``html.escape``. Plots: the heart-rate trace of each flagged run over
the zone bands of the zone model used, and a four-week timeline of sessions by kind with flags
drawn from the leg session to the run. This is the only module that imports matplotlib. Pure:
the caller decides where the page is written.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any

import polars as pl

from pipeline.report.build import (
    LOAD_LABEL,
    files_to_look_at,
    headline,
    legs_sentence,
    parse_stamp,
    report_tz,
    when,
)

SEVERITY_COLOURS = {"alert": "#c62828", "warning": "#e65100", "info": "#1565c0"}
INTENSITY_COLOURS = {
    "easy": "#2e7d32",
    "moderate": "#f9a825",
    "hard": "#c62828",
    "unknown": "#9e9e9e",
}
ZONE_COLOURS = ("#eceff1", "#bbdefb", "#c8e6c9", "#ffe0b2", "#ffcdd2")
KIND_ORDER = ("run", "leg_strength", "strength", "ride", "swim", "other")
KIND_LABELS = {
    "run": "Run",
    "leg_strength": "Leg strength",
    "strength": "Other strength",
    "ride": "Ride",
    "swim": "Swim",
    "other": "Other",
}
LEG_COLOURS = {True: "#6a1b9a", False: "#ba68c8"}
OTHER_COLOUR = "#78909c"
TIMELINE_DAYS = 28
ZOOM_DAYS = 3
HR_POINTS = 900  # points of an HR trace plot, at most: more than the plot has pixels across
#: Below this page width (CSS px) the narrow drawing of each plot is shown instead of the wide
#: one: scaled down to a phone, the 10-11 in wide figures' 12 pt text would be 5 px high.
NARROW_MAX_PX = 760


@dataclass(frozen=True)
class _Layout:
    """Sizes of one drawing of the plots: wide for desktops, narrow for phones.

    The narrow figures are about 4.6 in (331 pt) wide, so on a 360 px phone (about 320 px for
    the plot) they are drawn at ~0.97 px per pt and 11-12 pt text stays 11-12 px high.
    """

    name: str
    hr_size: tuple[float, float]
    hr_margins: tuple[float, float, float, float]  # left, right, top, bottom (inches)
    hr_points: int
    zone_font: float
    width: float  # timeline figure width (inches)
    tl_margins: tuple[float, float, float, float]
    row_height: float
    label_font: float
    tick_font: float
    title_font: float
    marker_scale: tuple[float, float]  # four weeks, zoom
    narrow: bool


WIDE = _Layout(
    "wide", (10, 3.6), (0.85, 1.45, 0.15, 0.65), HR_POINTS, 10, 11,
    (1.55, 0.6, 0.4, 0.85), 0.55, 12, 11, 13, (1.0, 1.3), False,
)  # fmt: skip
NARROW = _Layout(
    "narrow", (4.6, 3.3), (0.72, 1.18, 0.12, 0.62), 400, 11, 4.6,
    (1.4, 0.42, 0.42, 0.95), 0.5, 11, 11, 12, (0.55, 0.9), True,
)  # fmt: skip

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 16px; line-height: 1.45; color: #212121; background: #fafafa; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 10px; border-bottom: 2px solid #e0e0e0;
  padding-bottom: 4px; }
.meta { color: #555; margin: 0 0 16px; }
.headline { font-size: 1.15em; font-weight: 600; margin: 12px 0; }
.flag { background: #fff; border-left: 8px solid #999; border-radius: 4px; padding: 12px 16px;
  margin: 10px 0; box-shadow: 0 1px 2px rgba(0,0,0,.12); }
.flag p { margin: 6px 0 0; font-size: 1.05em; }
.badge { display: inline-block; color: #fff; font-weight: 700; font-size: .85em;
  padding: 2px 10px; border-radius: 12px; letter-spacing: .03em; }
.rule { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; color: #444;
  margin-left: 8px; }
.ok { background: #e8f5e9; border-left-color: #2e7d32; }
.card { background: #fff; border-radius: 4px; padding: 12px 16px; margin: 10px 0;
  box-shadow: 0 1px 2px rgba(0,0,0,.12); }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: .95em; }
th, td { padding: 6px 8px; border-bottom: 1px solid #e0e0e0; text-align: left;
  vertical-align: top; }
th { background: #f0f0f0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sessions td { white-space: nowrap; }
table.sessions tr.main td { border-bottom: none; }
table.sessions tr.why td { white-space: normal; color: #555; font-size: .9em; padding-top: 0; }
.plot { background: #fff; margin: 10px 0; padding: 8px; border-radius: 4px;
  box-shadow: 0 1px 2px rgba(0,0,0,.12); }
.plot svg { width: 100%; height: auto; display: block; }
.note { color: #555; font-size: .92em; }
.caption { margin: 2px 8px 4px; font-size: 1.05em; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 22px; padding: 4px 12px 8px 140px;
  font-size: .9em; color: #37474f; }
.key { display: inline-flex; align-items: center; gap: 7px; }
.key i { display: inline-block; width: 11px; height: 11px; }
.key i.dot { border-radius: 50%; }
.key i.diamond { width: 9px; height: 9px; transform: rotate(45deg); }
.key i.line { width: 22px; height: 3px; }
@media (max-width: 700px) { .legend { padding-left: 12px; } }
footer { color: #777; font-size: .85em; margin-top: 40px; }
p, li, .meta { overflow-wrap: break-word; }
.scroll { overflow-x: auto; margin: 10px 0; }
.scroll table { margin: 0; }
.scroll-hint { display: none; color: #777; font-size: .85em; margin: 0 0 4px; }
.evidence { margin: 6px 0 0; padding-left: 1.2em; color: #37474f; font-size: .92em; }
.evidence li { margin: 3px 0; }
.evidence b { font-family: ui-monospace, Menlo, Consolas, monospace; }
.narrow { display: none; }
.narrow svg { max-width: 560px; margin: 0 auto; }
@media (max-width: NARROW_MAX_PXpx) {
  .wide { display: none; }
  .narrow { display: block; }
  main { padding: 16px 12px 40px; }
  h1 { font-size: 1.45em; }
  h2 { margin-top: 26px; }
  .flag, .card { padding: 10px 12px; }
  .plot { padding: 6px 4px; }
  .caption { margin: 2px 4px 6px; font-size: 1em; }
  table { font-size: .9em; }
  th, td { padding: 5px 6px; }
  .scroll-hint { display: block; }
  /* The sessions table reflows: one block per session, its cells wrapping into lines. */
  table.sessions, table.sessions tbody, table.sessions tr, table.sessions td { display: block; }
  table.sessions tr.head { display: none; }
  table.sessions tr.main { padding: 10px 10px 4px; border-top: 1px solid #e0e0e0;
    line-height: 1.7; }
  table.sessions tr.main td { display: inline; padding: 0; margin-right: 12px; border: none; }
  table.sessions td[data-label]::before { content: attr(data-label) " "; color: #757575;
    font-size: .9em; }
  /* Names and intensity, then the numbers, then the zones: each group starts a line. */
  table.sessions td.nl::before { content: "\\A" attr(data-label) " "; white-space: pre; }
  table.sessions tr.why td { padding: 2px 10px 10px; }
  table.sessions tr.why td:empty, table.sessions tr.main td.empty { display: none; }
}
""".replace("NARROW_MAX_PX", str(NARROW_MAX_PX - 1))


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: float | int | None, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def _svg(fig: Any, prefix: str) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no external references).

    Every id (glyphs, clip paths) and every reference to one gets ``prefix``: a page holds
    several figures, and the narrow drawing hidden on a desktop must not own the glyphs or
    clip paths the wide one refers to.

    Margins are set by the caller in inches (``_margins``) rather than with
    ``bbox_inches="tight"``, which draws every figure twice: the figures are most of a report's
    cost, and a report must stay cheap however much it has to show.
    """
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return _ID_REF.sub(lambda m: m.group(1) + prefix, text[text.index("<svg") :])


_ID_REF = re.compile(r'(\bid="|href="#|url\(#)')


def _margins(fig: Any, left: float, right: float, top: float, bottom: float, **kw: float) -> None:
    """Fixed margins in inches, whatever the figure's size."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **kw
    )


def _thin(
    minutes: list[float], bpm: list[int], most: int = HR_POINTS
) -> tuple[list[float], list[float]]:
    """At most ``most`` points: means over equal runs of samples.

    A 1 s trace of a long run has several samples per pixel; averaging runs of a few seconds
    keeps the shape and cuts the SVG path (and the page) several-fold.
    """
    n = len(bpm)
    if n <= most:
        return minutes, [float(b) for b in bpm]
    step = -(-n // most)
    xs, ys = [], []
    for i in range(0, n, step):
        chunk = bpm[i : i + step]
        xs.append(sum(minutes[i : i + step]) / len(chunk))
        ys.append(sum(chunk) / len(chunk))
    return xs, ys


def _x(ts: datetime) -> float:
    """Matplotlib date number of an instant, on a real-time (UTC) axis.

    Plotting real time keeps a 25 h DST day 25 h wide; tick labels are written in local time.
    """
    import matplotlib.dates as mdates

    return float(mdates.date2num(ts.astimezone(UTC).replace(tzinfo=None)))


def _local_ticks(
    start: datetime, end: datetime, tz: tzinfo, hours: Sequence[int], weekday: int | None = None
) -> list[datetime]:
    """Instants in [start, end] at the given local hours (optionally one weekday only)."""
    out = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date():
        if weekday is None or day.weekday() == weekday:
            for h in hours:
                ts = datetime.combine(day, time(h), tzinfo=tz)
                if start <= ts <= end:
                    out.append(ts)
        day += timedelta(days=1)
    return out


def _hr_plot(
    flag: Mapping[str, Any], trace: pl.DataFrame, report: Mapping[str, Any], lay: _Layout
) -> str:
    import matplotlib.pyplot as plt

    tz = report_tz(report)
    zones = report["hr_profile"]["zones"]
    start = parse_stamp(flag["run_start"], tz)
    assert start is not None
    t = trace.sort("ts")
    minutes = [(ts - start).total_seconds() / 60 for ts in t["ts"].to_list()]
    bpm = t["bpm"].to_list()
    fig, ax = plt.subplots(figsize=lay.hr_size)
    low = min([*bpm, zones[1]["low_bpm"]]) - 8
    high = max([*bpm, zones[4]["high_bpm"]]) + 4
    span = max(minutes) if minutes else 1.0
    for i, z in enumerate(zones):
        lo = low if i == 0 else z["low_bpm"]
        hi = high if i == 4 else z["high_bpm"]
        ax.axhspan(lo, hi, color=ZONE_COLOURS[i], zorder=0, lw=0)
        mid = (max(lo, low) + min(hi, high)) / 2
        ax.text(
            1.01,
            mid,
            f"{z['zone']} {z['low_bpm']}–{z['high_bpm']}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=lay.zone_font,
            color="#37474f",
        )
    ax.plot(*_thin(minutes, bpm, lay.hr_points), color="#263238", lw=1.4, zorder=3)
    ax.set_xlim(0, span)
    ax.set_ylim(low, high)
    ax.set_xlabel(f"Minutes since start ({start:%H:%M} {start:%Z})")
    ax.set_ylabel("Heart rate (bpm)")
    ax.grid(axis="x", color="white", lw=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    left, right, top, bottom = lay.hr_margins
    _margins(fig, left=left, right=right, top=top, bottom=bottom)
    return _svg(fig, f"hr{flag['flag_id']}-{lay.name}-")


def _hr_caption(flag: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """The HR plot's title, as HTML (cheaper than figure text, and selectable)."""
    sev = str(flag["severity"])
    hr = report["hr_profile"]
    return (
        f'<p class="caption" style="color:{SEVERITY_COLOURS.get(sev, "#212121")}">'
        f"{_e(flag['run_name'])} — {_e(sev.upper())}: {flag['hours_between']:.1f} h after leg "
        f"session ({_e(hr['zone_model'])} zones, HR max {_e(hr['max_hr'])})</p>"
    )


def _draw_timeline(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    flags: Sequence[Mapping[str, Any]],
    y_of: Mapping[str, int],
    scale: float,
    lay: _Layout,
) -> None:
    from matplotlib.collections import LineCollection

    pos: dict[str, tuple[float, int]] = {}
    # One scatter per marker shape and one collection for the flag lines, not one artist per
    # session or flag: a report's cost must not grow with how busy the four weeks were.
    groups: dict[str, tuple[list[float], list[int], list[str], list[float]]] = {}
    for r in rows:
        kind = str(r["kind"])
        x, y = _x(r["start_utc"]), y_of[kind]
        if kind == "run":
            colour = INTENSITY_COLOURS.get(str(r.get("intensity")), INTENSITY_COLOURS["unknown"])
            marker, size = "o", 110
        elif kind == "leg_strength":
            colour, marker, size = LEG_COLOURS[bool(r.get("heavy"))], "s", 150
        else:
            colour, marker, size = OTHER_COLOUR, "D", 80
        xs, ys, cs, ss = groups.setdefault(marker, ([], [], [], []))
        xs.append(x)
        ys.append(y)
        cs.append(colour)
        ss.append(size * scale)
        pos[str(r["activity_id"])] = (x, y)
    for marker, (xs, ys, cs, ss) in groups.items():
        ax.scatter(xs, ys, s=ss, c=cs, edgecolor="white", zorder=4, marker=marker)
    segments, colours, rings = [], [], []
    for f in flags:
        run_at = pos.get(str(f["run_activity_id"]))
        if run_at is None:
            continue
        segments.append([(_x(f["leg_end_utc"]), y_of["leg_strength"]), run_at])
        colours.append(SEVERITY_COLOURS.get(str(f["severity"]), "#000"))
        rings.append(run_at)
    if segments:
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=2.2, zorder=3))
        ax.scatter(
            [x for x, _ in rings],
            [y for _, y in rings],
            s=330 * scale,
            facecolor="none",
            edgecolors=colours,
            lw=2.4,
            zorder=5,
        )
    ax.set_yticks(
        list(y_of.values()), [KIND_LABELS.get(k, k) for k in y_of], fontsize=lay.label_font
    )
    ax.set_ylim(-0.7, len(y_of) - 0.3)
    ax.tick_params(axis="x", labelsize=lay.tick_font)
    ax.grid(axis="x", which="minor", color="#eeeeee", lw=0.8)
    ax.grid(axis="x", which="major", color="#bdbdbd", lw=1.0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _timeline_plot(
    report: Mapping[str, Any],
    timeline: pl.DataFrame,
    flags: Sequence[Mapping[str, Any]],
    lay: _Layout,
) -> str:
    import matplotlib.pyplot as plt

    tz = report_tz(report)
    day_start = parse_stamp(report["day"]["start"], tz)
    day_end = parse_stamp(report["day"]["end"], tz)
    assert day_start is not None and day_end is not None
    window_start = day_end - timedelta(days=TIMELINE_DAYS)
    zoom_start = day_end - timedelta(days=ZOOM_DAYS)
    rows = [
        r
        for r in timeline.sort(["start_utc", "activity_id"]).to_dicts()
        if window_start <= r["start_utc"] < day_end
    ]
    kinds = [
        k for k in KIND_ORDER if k in ("run", "leg_strength") or any(r["kind"] == k for r in rows)
    ]
    kinds += sorted({str(r["kind"]) for r in rows} - set(kinds))
    y_of = {k: len(kinds) - 1 - i for i, k in enumerate(kinds)}

    height = lay.row_height * len(kinds) + 0.6
    left, right, top, bottom = lay.tl_margins
    fig, (ax, zoom) = plt.subplots(2, 1, figsize=(lay.width, 2 * height + 2.1))
    _margins(fig, left=left, right=right, top=top, bottom=bottom, hspace=1.1 / height)
    for a, start, scale in (
        (ax, window_start, lay.marker_scale[0]),
        (zoom, zoom_start, lay.marker_scale[1]),
    ):
        a.axvspan(_x(day_start), _x(day_end), color="#fff59d", alpha=0.6, lw=0)
        _draw_timeline(a, [r for r in rows if r["start_utc"] >= start], flags, y_of, scale, lay)
        a.set_xlim(_x(start), _x(day_end))
    # A narrow figure has room for shorter tick labels only, and its titles start at the
    # figure's left edge rather than the axes' (they would run off the right side).
    title_x = -left / (lay.width - left - right) if lay.narrow else 0.0
    mondays = _local_ticks(window_start, day_end, tz, (0,), weekday=0)
    monday_fmt = "%d %b" if lay.narrow else "%a %d %b"
    ax.set_xticks([_x(t) for t in mondays], [f"{t:{monday_fmt}}" for t in mondays])
    ax.set_xticks([_x(t) for t in _local_ticks(window_start, day_end, tz, (0,))], minor=True)
    ax.set_title(
        f"Last {TIMELINE_DAYS} days (report day shaded yellow)",
        loc="left",
        x=title_x,
        fontsize=lay.title_font,
    )
    midnights = _local_ticks(zoom_start, day_end, tz, (0,) if lay.narrow else (0, 12))
    zoom.set_xticks(
        [_x(t) for t in midnights],
        [
            f"{t:%a %d}" if lay.narrow else f"{t:%a %d %b}" if t.hour == 0 else f"{t:%H:%M}"
            for t in midnights
        ],
    )
    zoom.set_xticks(
        [_x(t) for t in _local_ticks(zoom_start, day_end, tz, range(0, 24, 3))], minor=True
    )
    zoom.set_title(f"Last {ZOOM_DAYS} days, zoomed", loc="left", x=title_x, fontsize=lay.title_font)
    zoom.set_xlabel(
        f"Local time ({tz.key}),\nreal hours: DST days are 23 or 25 h long"
        if lay.narrow
        else f"Local time ({tz.key}); real elapsed time on the axis, so DST days are 23 or 25 h",
        fontsize=lay.tick_font if lay.narrow else None,
    )
    return _svg(fig, f"tl-{lay.name}-")


def _both(draw: Callable[[_Layout], str]) -> str:
    """The wide and the narrow drawing of a plot; CSS shows the one that fits the page."""
    return f'<div class="wide">{draw(WIDE)}</div><div class="narrow">{draw(NARROW)}</div>'


def _timeline_legend() -> str:
    """The timeline's key as HTML: text the reader can select and a screen reader can read."""

    def item(swatch: str, label: str) -> str:
        return f'<span class="key">{swatch}{_e(label)}</span>'

    def dot(colour: str, shape: str) -> str:
        return f'<i class="{shape}" style="background:{colour}"></i>'

    def line(colour: str) -> str:
        return f'<i class="line" style="background:{colour}"></i>'

    items = [
        *(item(dot(INTENSITY_COLOURS[k], "dot"), f"Run: {k}") for k in INTENSITY_COLOURS),
        item(dot(LEG_COLOURS[True], "square"), "Leg session: heavy"),
        item(dot(LEG_COLOURS[False], "square"), "Leg session"),
        item(dot(OTHER_COLOUR, "diamond"), "Other session"),
        *(item(line(c), f"Flag: {s} (leg session → run)") for s, c in SEVERITY_COLOURS.items()),
    ]
    return f'<div class="legend">{"".join(items)}</div>'


def _flag_cards(report: Mapping[str, Any]) -> str:
    if not report["flags"]:
        return (
            '<div class="flag ok"><span class="badge" style="background:#2e7d32">OK</span>'
            "<p>No run this day started too soon after a leg session.</p></div>"
        )
    cards = []
    for f in report["flags"]:
        colour = SEVERITY_COLOURS.get(f["severity"], "#555")
        cards.append(
            f'<div class="flag" style="border-left-color:{colour}">'
            f'<span class="badge" style="background:{colour}">{_e(f["severity"].upper())}</span>'
            f'<span class="rule">{_e(f["rule"])} · evidence {_e(f["evidence"])}</span>'
            f"<p>{_e(f['message'])}</p></div>"
        )
    evidence = report.get("evidence") or []
    if evidence:
        items = "".join(
            f"<li><b>{_e(ev['key'])}</b> {_e(ev['citation'])}"
            + (f" — {_e(ev['finding'])}" if ev["finding"] else "")
            + "</li>"
            for ev in evidence
        )
        cards.append(
            f'<p class="note">Evidence keys cited above:</p><ul class="evidence">{items}</ul>'
        )
    return "\n".join(cards)


_SCROLL_HINT = '<p class="scroll-hint">Cut off on the right? The table scrolls sideways →</p>'


def _sessions_table(report: Mapping[str, Any], tz: tzinfo) -> str:
    if not report["sessions"]:
        return '<p class="note">No sessions this day.</p>'
    model = report["hr_profile"]["zone_model"]
    head = (
        '<tr class="head"><th>Start</th><th>Kind</th><th>Session</th><th>Intensity</th>'
        '<th class="num">Duration</th><th class="num">Distance</th><th class="num">Avg HR</th>'
        '<th class="num">TRIMP</th>'
        + "".join(f'<th class="num">Z{i}</th>' for i in range(1, 6))
        + "</tr>"
    )
    body = []
    for s in report["sessions"]:
        start = parse_stamp(s["start"], tz)
        dur = s["duration_s"]
        dist = s["distance_m"]
        # data-label: on a phone the row reflows into lines and each number says what it is.
        zone_cells = "".join(
            f'<td class="num{" nl" if i == 0 else ""}" data-label="Z{i + 1}">{m}</td>'
            for i, m in enumerate(
                [f"{m:.0f}" for m in s["zone_minutes"]] if s["zone_minutes"] else ["—"] * 5
            )
        )
        label = _e(s["intensity"] or ("heavy" if s["heavy"] else "—"))
        if s["flag_severity"]:
            colour = SEVERITY_COLOURS.get(s["flag_severity"], "#555")
            label += (
                f' <span class="badge" style="background:{colour}">{_e(s["flag_severity"])}</span>'
            )
        why = "; ".join(
            str(x)
            for x in (
                s["intensity_reason"],
                None if s["leg_score"] is None else f"leg score {s['leg_score']:.1f}",
                s["classification_reason"],
            )
            if x
        )
        hm = "—" if dur is None else f"{int(dur // 3600)}:{round(dur % 3600 / 60):02d}"
        km = "—" if dist is None else f"{dist / 1000:.2f} km"
        body.append(
            f'<tr class="main"><td>{start:%H:%M %Z}</td><td>{_e(s["kind"])}</td>'
            f"<td>{_e(s['name'])}</td><td>{label}</td>"
            f'<td class="num nl" data-label="h:mm">{hm}</td>'
            f'<td class="num{" empty" if dist is None else ""}">{km}</td>'
            f'<td class="num" data-label="Avg HR">{_fmt(s["avg_hr"], ".0f")}</td>'
            f'<td class="num" data-label="TRIMP">{_fmt(s["trimp"])}</td>{zone_cells}</tr>'
        )
        if why:
            body.append(f'<tr class="why"><td></td><td colspan="12">{_e(why)}</td></tr>')
    caption = f"Z1–Z5: minutes in each heart-rate zone ({_e(model)} model)."
    return (
        f'<div class="scroll"><table class="sessions">{head}{"".join(body)}</table>'
        f'</div><p class="note">{caption}</p>'
    )


def _load_table(report: Mapping[str, Any]) -> str:
    load = report["load_context"]
    acwr = _fmt(load["acwr"], ".2f") + (f" ({_e(load['acwr_band'])})" if load["acwr_band"] else "")
    cells = [
        ("TRIMP 7 d", _fmt(load["trimp_7d"])),
        ("TRIMP 28 d", _fmt(load["trimp_28d"])),
        ("CTL (fitness)", _fmt(load["ctl"])),
        ("ATL (fatigue)", _fmt(load["atl"])),
        ("TSB (form)", _fmt(load["tsb"])),
        ("ACWR 7:28", acwr),
    ]
    head = "".join(f'<th class="num">{_e(k)}</th>' for k, _ in cells)
    row = "".join(f'<td class="num">{v}</td>' for _, v in cells)
    method = f'<p class="note">Method: {_e(load["method"])}</p>' if load["method"] else ""
    return (
        f'<p class="note">{_e(LOAD_LABEL)}</p>{_SCROLL_HINT}<div class="scroll"><table>'
        f"<tr>{head}</tr><tr>{row}</tr></table></div>{method}"
    )


def render_html(
    report: Mapping[str, Any],
    hr_traces: Mapping[str, pl.DataFrame],
    timeline: pl.DataFrame,
    *,
    timeline_flags: pl.DataFrame | None = None,
) -> str:
    """The report as a self-contained HTML page.

    ``hr_traces`` maps a run's activity_id to its samples (``ts`` UTC, ``bpm``); flagged runs
    without samples get a note instead of a plot. ``timeline`` holds the sessions of the last
    four weeks (``activity_id, kind, start_utc, intensity, heavy``); ``timeline_flags`` are
    the ``recovery_flags`` rows to draw on it (default: the report's own flags).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tz = report_tz(report)
    athlete = report["athlete"]
    who = athlete["name"] or athlete["id"]
    day = parse_stamp(report["day"]["start"], tz)
    assert day is not None
    dst = (
        "" if report["day"]["hours"] == 24 else f" · {report['day']['hours']:g} h day (DST change)"
    )

    if timeline_flags is None:
        tl_flags: list[dict[str, Any]] = [
            {
                "run_activity_id": f["run_activity_id"],
                "severity": f["severity"],
                "leg_end_utc": parse_stamp(f["leg_end"], tz),
            }
            for f in report["flags"]
        ]
    else:
        tl_flags = timeline_flags.to_dicts()

    plots: list[str] = []
    # A fixed hash salt keeps the SVG ids, hence the page, identical run to run.
    with plt.rc_context({"font.size": 12, "svg.hashsalt": "legday", "svg.fonttype": "path"}):
        for f in report["flags"]:
            trace = hr_traces.get(f["run_activity_id"])
            # Samples without a readable time cannot be placed on the minutes axis.
            trace = None if trace is None else trace.drop_nulls(["ts", "bpm"])
            if trace is None or trace.height == 0:
                plots.append(
                    f'<p class="note">{_e(f["run_name"])}: no heart-rate samples to plot.</p>'
                )
            else:
                svgs = _both(partial(_hr_plot, f, trace, report))
                plots.append(f'<div class="plot">{_hr_caption(f, report)}{svgs}</div>')
        timeline_svg = _both(lambda lay: _timeline_plot(report, timeline, tl_flags, lay))

    hr = report["hr_profile"]
    zones = " · ".join(f"{_e(z['zone'])} {z['low_bpm']}–{z['high_bpm']}" for z in hr["zones"])
    quarantine = ""
    look_at = files_to_look_at(report)

    def _code_spans(line: str) -> str:  # `name` -> <code>name</code>, the rest escaped
        parts = _e(line).split("`")
        return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))

    if look_at:
        total = sum(len(lines) for _k, _h, lines in look_at)
        quarantine = f"<h2>Files to look at ({total})</h2>" + "".join(
            f"<h3>{_e(heading)} ({len(lines)})</h3><ul>"
            + "".join(f"<li>{_code_spans(line)}</li>" for line in lines)
            + "</ul>"
            for _kind, heading, lines in look_at
        )
    legs = report["legs"]
    legs_colour = "#e65100" if legs["status"] == "recovering" else "#2e7d32"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recovery report: {_e(who)}, {day:%a %d %b %Y}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>Recovery report: {_e(who)}, {day:%a %d %b %Y}</h1>
<p class="meta">Athlete <code>{_e(athlete["id"])}</code> · {_e(athlete["timezone"])}{_e(dst)}
 · generated {_e(when(report["generated_at"], tz))}</p>
<p class="headline">{_e(headline(report))}</p>
<section id="flags">
{_flag_cards(report)}
</section>
<h2>Legs at the end of the day</h2>
<div class="card">
<span class="badge" style="background:{legs_colour}">{_e(legs["status"].upper())}</span>
<p>{_e(legs_sentence(legs, tz))}</p></div>
<h2>Heart rate of flagged runs</h2>
{"".join(plots) if plots else '<p class="note">No flagged runs this day.</p>'}
<h2>Last four weeks</h2>
<div class="plot">{timeline_svg}{_timeline_legend()}</div>
<h2>Sessions this day ({len(report["sessions"])})</h2>
{_sessions_table(report, tz)}
<h2>Load context (for context only)</h2>
{_load_table(report)}
<h2>Heart-rate profile</h2>
<p>HR max <b>{hr["max_hr"]} bpm</b> (source: {_e(hr["max_hr_source"])}) · resting
{hr["resting_hr"]} bpm ({_e(hr["resting_hr_source"])}) · LTHR {hr["lthr"]} bpm
({_e(hr["lthr_source"])})</p>
<p>Zones ({_e(hr["zone_model"])} model, bpm): {zones}</p>
{quarantine}
<footer>legday report schema {_e(report["schema_version"])}. Flags cite evidence keys of the
project's sport-science notes (README, "Sport-science defaults").
<a href="../index.html">All reports</a> (the index beside the athlete's folder).</footer>
</main>
</body>
</html>
"""
    return re.sub(r"[ \t]+\n", "\n", page)
