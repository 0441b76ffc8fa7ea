"""The report's plots as inline SVG: heart rate of a flagged run, four weeks of sessions. Pure.

The only matplotlib importer besides ``figures_legs`` (the legs' fatigue curve, which uses this
module's plumbing). Each plot is drawn twice, wide for desktops and narrow for phones
(the page's CSS shows the one that fits); every SVG id gets a prefix of its own, so a page can
hold them all. Drawings are deterministic (fixed hash salt, no date in the metadata), so the
same report gives the same page. Time runs on a real-time (UTC) axis, so a 25 h DST day is
25 h wide, and tick labels are written in local time.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.report.model import Day, Zone
from pipeline.report.palette import (
    INTENSITY_COLOURS,
    KIND_LABELS,
    KIND_ORDER,
    LEG_COLOURS,
    OTHER_COLOUR,
    SEVERITY_COLOURS,
    ZONE_COLOURS,
)

TIMELINE_DAYS = 28
ZOOM_DAYS = 3
HR_POINTS = 900  # points of an HR trace plot, at most: more than the plot has pixels across


@dataclass(frozen=True)
class Layout:
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


WIDE = Layout(
    "wide", (10, 3.6), (0.85, 1.45, 0.15, 0.65), HR_POINTS, 10, 11,
    (1.55, 0.6, 0.4, 0.85), 0.55, 12, 11, 13, (1.0, 1.3), False,
)  # fmt: skip
NARROW = Layout(
    "narrow", (4.6, 3.3), (0.72, 1.18, 0.12, 0.62), 400, 11, 4.6,
    (1.4, 0.42, 0.42, 0.95), 0.5, 11, 11, 12, (0.55, 0.9), True,
)  # fmt: skip


@dataclass(frozen=True)
class Drawing:
    """The wide and the narrow SVG of one plot."""

    wide: str
    narrow: str


@dataclass(frozen=True)
class TimelineFlag:
    """A flag as the timeline draws it: a line from the leg session's end to the run."""

    run_activity_id: str
    severity: str
    leg_end: datetime


@contextmanager
def figure_style() -> Iterator[None]:
    """Matplotlib set up for the report's figures: Agg, 12 pt text, reproducible SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A fixed hash salt keeps the SVG ids, hence the page, identical run to run.
    with plt.rc_context({"font.size": 12, "svg.hashsalt": "legday", "svg.fonttype": "path"}):
        yield


def _both(draw: Callable[[Layout], str]) -> Drawing:
    return Drawing(draw(WIDE), draw(NARROW))


_ID_REF = re.compile(r'(\bid="|href="#|url\(#)')


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


def _margins(fig: Any, left: float, right: float, top: float, bottom: float, **kw: float) -> None:
    """Fixed margins in inches, whatever the figure's size."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **kw
    )


def thin(
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
    """Matplotlib date number of an instant, on a real-time (UTC) axis."""
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


def hr_plot(
    flag_id: str, run_start: datetime, trace: pl.DataFrame, zones: Sequence[Zone]
) -> Drawing:
    """A flagged run's heart rate (``trace``: ``ts`` UTC, ``bpm``) over the bands of ``zones``.

    ``run_start`` is in the athlete's zone: the axis label names its local time.
    """
    t = trace.sort("ts")
    minutes = [(ts - run_start).total_seconds() / 60 for ts in t["ts"].to_list()]
    bpm = t["bpm"].to_list()

    def draw(lay: Layout) -> str:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=lay.hr_size)
        low = min([*bpm, zones[1].low_bpm]) - 8
        high = max([*bpm, zones[4].high_bpm]) + 4
        span = max(minutes) if minutes else 1.0
        for i, z in enumerate(zones):
            lo = low if i == 0 else z.low_bpm
            hi = high if i == 4 else z.high_bpm
            ax.axhspan(lo, hi, color=ZONE_COLOURS[i], zorder=0, lw=0)
            mid = (max(lo, low) + min(hi, high)) / 2
            ax.text(
                1.01,
                mid,
                f"{z.zone} {z.low_bpm}–{z.high_bpm}",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=lay.zone_font,
                color="#37474f",
            )
        ax.plot(*thin(minutes, bpm, lay.hr_points), color="#263238", lw=1.4, zorder=3)
        ax.set_xlim(0, span)
        ax.set_ylim(low, high)
        ax.set_xlabel(f"Minutes since start ({run_start:%H:%M} {run_start:%Z})")
        ax.set_ylabel("Heart rate (bpm)")
        ax.grid(axis="x", color="white", lw=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        left, right, top, bottom = lay.hr_margins
        _margins(fig, left=left, right=right, top=top, bottom=bottom)
        return _svg(fig, f"hr{flag_id}-{lay.name}-")

    return _both(draw)


def _draw_timeline(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    flags: Sequence[TimelineFlag],
    y_of: Mapping[str, int],
    scale: float,
    lay: Layout,
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
        run_at = pos.get(f.run_activity_id)
        if run_at is None:
            continue
        segments.append([(_x(f.leg_end), y_of["leg_strength"]), run_at])
        colours.append(SEVERITY_COLOURS.get(f.severity, "#000"))
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


def timeline_plot(
    day: Day, tz: ZoneInfo, timeline: pl.DataFrame, flags: Sequence[TimelineFlag]
) -> Drawing:
    """Sessions by kind over the four weeks up to the end of ``day``, and its last three days.

    ``timeline`` holds ``activity_id, kind, start_utc, intensity, heavy``; a flag is drawn
    when its run is on the plot. ``day``'s bounds are in the athlete's zone ``tz``.
    """
    window_start = day.end - timedelta(days=TIMELINE_DAYS)
    zoom_start = day.end - timedelta(days=ZOOM_DAYS)
    rows = [
        r
        for r in timeline.sort(["start_utc", "activity_id"]).to_dicts()
        if window_start <= r["start_utc"] < day.end
    ]
    kinds = [
        k for k in KIND_ORDER if k in ("run", "leg_strength") or any(r["kind"] == k for r in rows)
    ]
    kinds += sorted({str(r["kind"]) for r in rows} - set(kinds))
    y_of = {k: len(kinds) - 1 - i for i, k in enumerate(kinds)}

    def draw(lay: Layout) -> str:
        import matplotlib.pyplot as plt

        height = lay.row_height * len(kinds) + 0.6
        left, right, top, bottom = lay.tl_margins
        fig, (ax, zoom) = plt.subplots(2, 1, figsize=(lay.width, 2 * height + 2.1))
        _margins(fig, left=left, right=right, top=top, bottom=bottom, hspace=1.1 / height)
        for a, start, scale in (
            (ax, window_start, lay.marker_scale[0]),
            (zoom, zoom_start, lay.marker_scale[1]),
        ):
            a.axvspan(_x(day.start), _x(day.end), color="#fff59d", alpha=0.6, lw=0)
            shown = [r for r in rows if r["start_utc"] >= start]
            _draw_timeline(a, shown, flags, y_of, scale, lay)
            a.set_xlim(_x(start), _x(day.end))
        # A narrow figure has room for shorter tick labels only, and its titles start at the
        # figure's left edge rather than the axes' (they would run off the right side).
        title_x = -left / (lay.width - left - right) if lay.narrow else 0.0
        mondays = _local_ticks(window_start, day.end, tz, (0,), weekday=0)
        monday_fmt = "%d %b" if lay.narrow else "%a %d %b"
        ax.set_xticks([_x(t) for t in mondays], [f"{t:{monday_fmt}}" for t in mondays])
        ax.set_xticks([_x(t) for t in _local_ticks(window_start, day.end, tz, (0,))], minor=True)
        ax.set_title(
            f"Last {TIMELINE_DAYS} days (report day shaded yellow)",
            loc="left",
            x=title_x,
            fontsize=lay.title_font,
        )
        midnights = _local_ticks(zoom_start, day.end, tz, (0,) if lay.narrow else (0, 12))
        zoom.set_xticks(
            [_x(t) for t in midnights],
            [
                f"{t:%a %d}" if lay.narrow else f"{t:%a %d %b}" if t.hour == 0 else f"{t:%H:%M}"
                for t in midnights
            ],
        )
        zoom.set_xticks(
            [_x(t) for t in _local_ticks(zoom_start, day.end, tz, range(0, 24, 3))], minor=True
        )
        zoom.set_title(
            f"Last {ZOOM_DAYS} days, zoomed", loc="left", x=title_x, fontsize=lay.title_font
        )
        zoom.set_xlabel(
            f"Local time ({tz.key}),\nreal hours: DST days are 23 or 25 h long"
            if lay.narrow
            else f"Local time ({tz.key}); real elapsed time on the axis, so DST days are 23 or 25 h",
            fontsize=lay.tick_font if lay.narrow else None,
        )
        return _svg(fig, f"tl-{lay.name}-")

    return _both(draw)
