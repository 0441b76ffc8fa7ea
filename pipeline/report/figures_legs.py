"""The legs as a curve: the last 7 days' fatigue per leg region, the threshold and the runs. Pure.

Drawn like ``figures``' plots (wide for desktops, narrow for phones, ids prefixed, deterministic
SVG, a real-time axis with local tick labels), with its plumbing: matplotlib is imported here
only inside the drawing function, under ``figures.figure_style``, as in ``figures``. A module of
its own because ``figures`` would outgrow the house's module size with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.report.figures import NARROW, WIDE, Drawing, Layout, _local_ticks, _margins, _svg, _x
from pipeline.report.model import Day
from pipeline.report.palette import INTENSITY_COLOURS, REGION_COLOURS, SEVERITY_COLOURS

CURVE_DAYS = 7


@dataclass(frozen=True)
class RunMark:
    """A run on the curve's time axis; ``severity`` is its flag's, None when not flagged."""

    start: datetime
    intensity: str | None
    severity: str | None


def curve_window(day: Day) -> tuple[datetime, datetime]:
    """The plotted span: the 7 days up to the end of the report day."""
    return day.end - timedelta(days=CURVE_DAYS), day.end


def fatigue_plot(
    day: Day,
    tz: ZoneInfo,
    curve: pl.DataFrame,
    threshold: float,
    runs: Sequence[RunMark],
    ready_at: datetime | None = None,
) -> Drawing:
    """Each region's curve (``curve``: ``time_utc, region, fatigue``) over the 7 days up to the
    end of ``day``, the threshold as a dashed line, runs as marks under the curves (flagged
    ones larger, in their severity's colour, with a line up through the curves), and the legs'
    ready instant when it falls inside the span."""
    start, end = curve_window(day)
    shown = curve.filter(
        (pl.col("time_utc") >= start.astimezone(UTC)) & (pl.col("time_utc") <= end.astimezone(UTC))
    )
    by_region = {
        region: shown.filter(pl.col("region") == region).sort("time_utc")
        for region in REGION_COLOURS
    }
    top = max([threshold * 3, *(float(v) for v in shown["fatigue"].to_list())]) * 1.12
    marks = [r for r in runs if start <= r.start < end]

    def draw(lay: Layout) -> str:
        import matplotlib.pyplot as plt

        # A phone's plot is taller: its day labels take two lines.
        fig, ax = plt.subplots(
            figsize=(lay.hr_size[0], lay.hr_size[1] + (0.5 if lay.narrow else 0))
        )
        ax.axvspan(_x(day.start), _x(day.end), color="#fff59d", alpha=0.6, lw=0, zorder=0)
        for region, colour in REGION_COLOURS.items():
            frame = by_region[region]
            if frame.height:
                xs = [_x(t) for t in frame["time_utc"].to_list()]
                ax.plot(xs, frame["fatigue"].to_list(), color=colour, lw=2.0, zorder=3)
        ax.axhline(threshold, color="#37474f", lw=1.2, ls=(0, (5, 3)), zorder=2)
        ax.text(
            1.0,
            threshold,
            f" ready\n below {threshold:g}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=lay.zone_font,
            color="#37474f",
        )
        base = -top * 0.09
        for m in marks:
            x = _x(m.start)
            if m.severity:
                colour = SEVERITY_COLOURS.get(m.severity, "#000")
                ax.plot([x, x], [base, top], color=colour, lw=1.4, ls=":", zorder=2)
                ax.scatter([x], [base], s=150, marker="^", color=colour, zorder=5)
            else:
                colour = INTENSITY_COLOURS.get(str(m.intensity), INTENSITY_COLOURS["unknown"])
                ax.scatter([x], [base], s=55, marker="o", color=colour, zorder=4)
        if ready_at is not None and start <= ready_at <= end:
            ax.axvline(_x(ready_at), color="#2e7d32", lw=1.6, zorder=2)
        ax.set_xlim(_x(start), _x(end))
        ax.set_ylim(base * 1.8, top)
        ax.set_ylabel("Fatigue")
        # The marks' strip below zero carries no level: no tick there.
        ax.set_yticks([t for t in ax.get_yticks() if 0 <= t <= top])
        midnights = _local_ticks(start, end, tz, (0,))
        label = "%a\n%d" if lay.narrow else "%a %d %b"
        ax.set_xticks([_x(t) for t in midnights], [f"{t:{label}}" for t in midnights])
        ax.tick_params(labelsize=lay.tick_font)
        ax.grid(axis="x", color="#e0e0e0", lw=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        left, right, top_m, bottom = lay.hr_margins
        _margins(fig, left=left, right=right, top=top_m, bottom=bottom + (0.2 if lay.narrow else 0))
        return _svg(fig, f"legs-{lay.name}-")

    return Drawing(draw(WIDE), draw(NARROW))
