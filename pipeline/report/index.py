"""The index of written reports: ``<reports>/index.html``, every athlete's days on one page.

Per athlete, days with flags come first (newest first, with their worst severity and counts),
then a calendar of the last weeks up to the newest report, each day linking to its report and
coloured by its worst flag, then the days without flags. ``render_index`` is pure: it takes
``IndexEntry`` values and returns the page. ``read_entries`` and ``write_index`` are the file
side: the index lists the report files that are in the folder (``<athlete>/<date>.json`` gives
a day's summary), so every link on it leads to a file that exists. Reports from before the index
existed are listed too: it is rebuilt from the folder each time a report is written.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from pipeline.report.html import _CSS as REPORT_CSS
from pipeline.report.html import SEVERITY_COLOURS

INDEX_NAME = "index.html"
CALENDAR_WEEKS = 6
FORMATS = ("html", "md", "json")  # link order; the HTML page is the one a day links to
FORMAT_LABELS = {"html": "HTML", "md": "Markdown", "json": "JSON"}
NO_FLAG_COLOUR = "#2e7d32"

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(html|md|json)$")
_SEVERITIES = ("alert", "warning", "info")

_INDEX_CSS = """
.athlete-summary { color: #555; margin: 0 0 12px; }
main a { color: #1565c0; }
.flagged { list-style: none; padding: 0; margin: 8px 0; }
.flagged li { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px;
  background: #fff; border-radius: 4px; padding: 8px 12px; margin: 6px 0;
  box-shadow: 0 1px 2px rgba(0,0,0,.12); }
.flagged .badge { min-width: 5.2em; text-align: center; }
.flagged .day { font-weight: 600; }
.flagged .files { font-size: .9em; color: #555; }
.cal { display: grid; grid-template-columns: repeat(7, minmax(0, 1fr)); gap: 4px;
  max-width: 560px; margin: 10px 0; }
.cal .dow { text-align: center; font-size: .8em; color: #555; font-weight: 600; }
.cal .cell { display: block; text-align: center; padding: 6px 0 5px; border-radius: 4px;
  background: #eeeeee; color: #9e9e9e; font-size: .92em; line-height: 1.2;
  text-decoration: none; min-height: 2.6em; }
.cal .cell small { display: block; font-size: .72em; }
.cal a.cell { color: #fff; font-weight: 600; }
.cal a.cell.none { background: #fff; color: #2e7d32; border: 2px solid #2e7d32; padding: 4px 0 3px; }
.cal-key { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: .85em; color: #37474f; }
.cal-key i { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 6px; vertical-align: -1px; }
.quiet { line-height: 2; }
.quiet a { margin-right: 10px; white-space: nowrap; }
"""


@dataclass(frozen=True)
class IndexEntry:
    """One written report day of one athlete, as the index shows it.

    ``worst_severity`` and the counts come from the day's JSON report; ``readable`` is False
    when there is no readable JSON beside the other files (the day is listed, unsummarised).
    ``formats`` are the file formats present, in ``FORMATS`` order.
    """

    athlete_id: str
    athlete_name: str | None
    day: date
    formats: tuple[str, ...]
    worst_severity: str | None = None
    alerts: int = 0
    warnings: int = 0
    infos: int = 0
    sessions: int = 0
    runs: int = 0
    readable: bool = True

    @property
    def flagged(self) -> bool:
        return self.worst_severity is not None

    def href(self, fmt: str) -> str:
        return f"{quote(self.athlete_id)}/{self.day.isoformat()}.{fmt}"

    def main_href(self) -> str:
        return self.href(next((f for f in FORMATS if f in self.formats), self.formats[0]))


def entry_from_report(report: dict[str, object], formats: Sequence[str]) -> IndexEntry:
    """An entry from a parsed JSON report (any 1.x schema: only ``athlete``, ``date`` and
    ``summary`` are read)."""
    athlete = report["athlete"]
    summary = report["summary"]
    if not isinstance(athlete, dict) or not isinstance(summary, dict):
        raise ValueError("report without athlete or summary")
    worst = summary.get("worst_severity")
    return IndexEntry(
        athlete_id=str(athlete["id"]),
        athlete_name=athlete.get("name"),
        day=date.fromisoformat(str(report["date"])),
        formats=tuple(f for f in FORMATS if f in formats),
        worst_severity=worst if worst in _SEVERITIES else None,
        alerts=int(summary.get("alerts") or 0),
        warnings=int(summary.get("warnings") or 0),
        infos=int(summary.get("infos") or 0),
        sessions=int(summary.get("sessions") or 0),
        runs=int(summary.get("runs") or 0),
    )


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _counts(e: IndexEntry) -> str:
    parts = [
        f"{n} {label}{'s' if n != 1 else ''}"
        for n, label in ((e.alerts, "alert"), (e.warnings, "warning"), (e.infos, "info"))
        if n
    ]
    return ", ".join(parts) or "no flags"


def _badge(severity: str) -> str:
    colour = SEVERITY_COLOURS.get(severity, "#555")
    return f'<span class="badge" style="background:{colour}">{_e(severity.upper())}</span>'


def _links(e: IndexEntry) -> str:
    return " · ".join(f'<a href="{_e(e.href(fmt))}">{FORMAT_LABELS[fmt]}</a>' for fmt in e.formats)


def _flagged_list(entries: Sequence[IndexEntry]) -> str:
    """One line per day, worst badge first; the pieces wrap on a narrow screen."""
    items = "".join(
        f"<li>{_badge(str(e.worst_severity))}"
        f'<a class="day" href="{_e(e.main_href())}">{e.day:%a %d %b %Y}</a>'
        f"<span>{_e(_counts(e))} · {e.runs} run{'s' if e.runs != 1 else ''}</span>"
        f'<span class="files">{_links(e)}</span></li>'
        for e in entries
    )
    return f'<ul class="flagged">{items}</ul>'


def calendar_days(last: date, weeks: int = CALENDAR_WEEKS) -> list[date]:
    """The ``weeks`` whole weeks (Monday to Sunday) that end with the week of ``last``."""
    sunday = last + timedelta(days=6 - last.weekday())
    first = sunday - timedelta(days=7 * weeks - 1)
    return [first + timedelta(days=i) for i in range(7 * weeks)]


def _calendar(entries: Sequence[IndexEntry], weeks: int) -> str:
    by_day = {e.day: e for e in entries}
    days = calendar_days(max(by_day), weeks)
    cells = [f'<span class="dow">{d}</span>' for d in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")]
    for d in days:
        label = f"{d.day}" + (f"<small>{d:%b}</small>" if d.day == 1 or d == days[0] else "")
        e = by_day.get(d)
        if e is None:
            cells.append(f'<span class="cell" title="{d:%a %d %b %Y}: no report">{label}</span>')
            continue
        title = f"{d:%a %d %b %Y}: " + (_counts(e) if e.readable else "report (no summary)")
        if e.flagged:
            colour = SEVERITY_COLOURS.get(str(e.worst_severity), "#555")
            cells.append(
                f'<a class="cell" style="background:{colour}" href="{_e(e.main_href())}" '
                f'title="{_e(title)}">{label}</a>'
            )
        else:
            cells.append(
                f'<a class="cell none" href="{_e(e.main_href())}" title="{_e(title)}">{label}</a>'
            )
    key = "".join(
        f'<span><i style="background:{SEVERITY_COLOURS[s]}"></i>worst flag: {s}</span>'
        for s in _SEVERITIES
    )
    key += (
        f'<span><i style="background:#fff;border:2px solid {NO_FLAG_COLOUR};width:7px;'
        'height:7px"></i>report, no flags</span>'
        '<span><i style="background:#eeeeee"></i>no report</span>'
    )
    return f'<div class="cal">{"".join(cells)}</div><div class="cal-key">{key}</div>'


def _athlete_section(athlete_id: str, entries: Sequence[IndexEntry], weeks: int) -> str:
    newest_first = sorted(entries, key=lambda e: e.day, reverse=True)
    flagged = [e for e in newest_first if e.flagged]
    quiet = [e for e in newest_first if not e.flagged]
    name = next((e.athlete_name for e in newest_first if e.athlete_name), None) or athlete_id
    first, last = newest_first[-1].day, newest_first[0].day
    out = [
        f'<h2 id="athlete-{_e(athlete_id)}">{_e(name)}</h2>',
        f'<p class="athlete-summary">Athlete <code>{_e(athlete_id)}</code> · '
        f"{len(entries)} report{'s' if len(entries) != 1 else ''} from {first:%d %b %Y} to "
        f"{last:%d %b %Y} · {len(flagged)} with flags</p>",
        f"<h3>Days with flags ({len(flagged)})</h3>",
        _flagged_list(flagged) if flagged else '<p class="note">None.</p>',
        f"<h3>Last {weeks} weeks</h3>",
        _calendar(entries, weeks),
        f"<h3>Days without flags ({len(quiet)})</h3>",
    ]
    if quiet:
        links = "".join(
            f'<a href="{_e(e.main_href())}">{e.day:%a %d %b %Y}</a>'
            + ("" if e.readable else " (no summary)")
            for e in quiet
        )
        out.append(f'<p class="quiet">{links}</p>')
    else:
        out.append('<p class="note">None.</p>')
    return "\n".join(out)


def render_index(
    entries: Iterable[IndexEntry],
    *,
    generated_at: datetime,
    weeks: int = CALENDAR_WEEKS,
) -> str:
    """The index page of ``entries`` (any athletes, any order) as self-contained HTML."""
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be tz-aware")
    by_athlete: dict[str, list[IndexEntry]] = {}
    for e in entries:
        by_athlete.setdefault(e.athlete_id, []).append(e)
    sections = [_athlete_section(a, by_athlete[a], weeks) for a in sorted(by_athlete)]
    nav = ""
    if len(by_athlete) > 1:
        nav = (
            '<p class="meta">Athletes: '
            + " · ".join(f'<a href="#athlete-{_e(a)}">{_e(a)}</a>' for a in sorted(by_athlete))
            + "</p>"
        )
    body = "\n".join(sections) or '<p class="note">No reports written yet.</p>'
    stamp = generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>legday reports</title>
<style>{REPORT_CSS}{_INDEX_CSS}</style>
</head>
<body>
<main>
<h1>legday reports</h1>
<p class="meta">Every daily recovery report in this folder · updated {_e(stamp)}</p>
{nav}
{body}
<footer>Days link to their HTML report; Markdown and JSON are beside it.</footer>
</main>
</body>
</html>
"""
    return re.sub(r"[ \t]+\n", "\n", page)


# --- the folder -------------------------------------------------------------------------------


def read_entries(out_dir: Path) -> list[IndexEntry]:
    """Entries for the report files in ``<out_dir>/<athlete>/<date>.{html,md,json}``."""
    entries: list[IndexEntry] = []
    if not out_dir.is_dir():
        return entries
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        days: dict[str, set[str]] = {}
        for f in folder.iterdir():
            m = _DAY_FILE.match(f.name)
            if m and f.is_file():
                days.setdefault(m.group(1), set()).add(m.group(2))
        for day, formats in sorted(days.items()):
            try:
                d = date.fromisoformat(day)
            except ValueError:
                continue
            entry = None
            if "json" in formats:
                try:
                    report = json.loads((folder / f"{day}.json").read_text(encoding="utf-8"))
                    entry = entry_from_report(report, sorted(formats))
                except (OSError, ValueError, KeyError, TypeError):
                    entry = None
            if entry is None or entry.athlete_id != folder.name or entry.day != d:
                ordered = tuple(f for f in FORMATS if f in formats)
                entry = IndexEntry(folder.name, None, d, ordered, readable=False)
            entries.append(entry)
    return entries


def write_index(out_dir: Path, *, generated_at: datetime) -> Path:
    """Rebuild ``<out_dir>/index.html`` from the report files there (atomic replace)."""
    page = render_index(read_entries(out_dir), generated_at=generated_at)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / INDEX_NAME
    # A temporary file of its own: two reports (threads or processes) may rebuild it at once.
    fd, name = tempfile.mkstemp(dir=out_dir, prefix=f".{INDEX_NAME}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(name, 0o644)  # mkstemp makes it 0600; the index is read like the reports
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return target
