"""The index of written reports: ``<reports>/index.html``, every athlete's days on one page.

Per athlete, days with flags come first (newest first, with their worst severity and counts),
then a calendar of the last weeks up to the newest report, each day linking to its report and
coloured by its worst flag, then the days without flags. The page's structure is the template
``templates/index.html.j2``. ``render_index`` is pure: it takes ``IndexEntry`` values and
returns the page. ``read_entries`` and ``write_index`` are the file side: the index lists the
report files that are in the folder (``<athlete>/<date>.json`` gives a day's summary), so every
link on it leads to a file that exists. Reports from before the index existed are listed too:
it is rebuilt from the folder each time a report is written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from pipeline.report.palette import NEUTRAL_COLOUR, OK_COLOUR, SEVERITY_COLOURS
from pipeline.report.templating import finish, template
from pipeline.report.text import flag_counts

INDEX_NAME = "index.html"
CALENDAR_WEEKS = 6
FORMATS = ("html", "md", "json")  # link order; the HTML page is the one a day links to
FORMAT_LABELS = {"html": "HTML", "md": "Markdown", "json": "JSON"}

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(html|md|json)$")
_SEVERITIES = ("alert", "warning", "info")


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


def _counts(e: IndexEntry) -> str:
    return ", ".join(flag_counts(e.alerts, e.warnings, e.infos)) or "no flags"


def calendar_days(last: date, weeks: int = CALENDAR_WEEKS) -> list[date]:
    """The ``weeks`` whole weeks (Monday to Sunday) that end with the week of ``last``."""
    sunday = last + timedelta(days=6 - last.weekday())
    first = sunday - timedelta(days=7 * weeks - 1)
    return [first + timedelta(days=i) for i in range(7 * weeks)]


@dataclass(frozen=True)
class _Athlete:
    """One athlete's section of the index."""

    id: str
    name: str
    entries: tuple[IndexEntry, ...]  # newest first
    calendar: tuple[date, ...]
    by_day: dict[date, IndexEntry]

    @property
    def flagged(self) -> list[IndexEntry]:
        return [e for e in self.entries if e.flagged]

    @property
    def quiet(self) -> list[IndexEntry]:
        return [e for e in self.entries if not e.flagged]

    @property
    def first(self) -> date:
        return self.entries[-1].day

    @property
    def last(self) -> date:
        return self.entries[0].day


def _athlete(athlete_id: str, entries: Sequence[IndexEntry], weeks: int) -> _Athlete:
    newest_first = tuple(sorted(entries, key=lambda e: e.day, reverse=True))
    name = next((e.athlete_name for e in newest_first if e.athlete_name), None) or athlete_id
    by_day = {e.day: e for e in entries}
    days = tuple(calendar_days(max(by_day), weeks))
    return _Athlete(athlete_id, name, newest_first, days, by_day)


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
    page = template("index.html.j2").render(
        athletes=[_athlete(a, by_athlete[a], weeks) for a in sorted(by_athlete)],
        weeks=weeks,
        stamp=generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        severities=_SEVERITIES,
        format_labels=FORMAT_LABELS,
        no_flag_colour=OK_COLOUR,
        colour=lambda s: SEVERITY_COLOURS.get(str(s), NEUTRAL_COLOUR),
        counts=_counts,
    )
    return finish(page)


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
