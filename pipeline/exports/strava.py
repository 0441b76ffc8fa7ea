"""Read a Strava bulk export's ``activities.csv`` (pure: bytes in, summaries out).

Layout (``../shared/research/exports.md`` section 2): a header naming some columns twice
(``Elapsed Time``, ``Distance``, ...), so cells are read by the position of a name's *first*
occurrence with ``csv.reader`` (a ``DictReader`` would keep the last); dates like
``"Sep 12, 2018, 3:02:23 PM"``, read as UTC (what importers do; Strava's word on it is
UNCONFIRMED); ``Filename`` such as ``activities/123.fit.gz``, empty for manual entries.
The German header of localized exports is accepted for the documented columns. Odd rows and
dates become ``unexpected`` notes; only a file without the ID and date columns raises.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, datetime

from pipeline.exports.types import ActivitySummary, ExportFormatError, ExportSource, SummaryFile

__all__ = ["parse_strava_activities_csv", "read_strava_activities_csv"]


def _num(value: str | None) -> float | None:
    try:
        out = float(value) if value is not None else None
    except ValueError:
        return None
    return out if out is not None and math.isfinite(out) else None


#: Documented header names (English, and the German export of strava-export-organizer).
_STRAVA_COLUMNS = {
    "id": ("Activity ID", "Aktivitäts-ID"),
    "date": ("Activity Date", "Aktivitätsdatum"),
    "name": ("Activity Name", "Name der Aktivität"),
    "type": ("Activity Type", "Aktivitätsart"),
    "elapsed": ("Elapsed Time",),
    "file": ("Filename", "Dateiname"),
}
_DOCUMENTED_DATE = "%b %d, %Y, %I:%M:%S %p"  # "Sep 12, 2018, 3:02:23 PM"
_OTHER_DATES = (
    "%b %d, %Y %I:%M:%S %p",
    "%d %b %Y, %H:%M:%S",
    "%d.%m.%Y, %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


def _strava_date(text: str, notes: list[str]) -> datetime | None:
    """Strava's English date, read as UTC (exports.md: UNCONFIRMED but what importers do)."""
    clean = re.sub(r"[\u00a0\u202f\s]+", " ", text).strip()
    if clean != text.strip():
        notes.append(f"date {text!r} had unusual spaces")
    try:
        return datetime.strptime(clean, _DOCUMENTED_DATE).replace(tzinfo=UTC)
    except ValueError:
        pass
    for fmt in _OTHER_DATES:
        try:
            parsed = datetime.strptime(clean, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        notes.append(f"date {text!r} is not in the documented format; read as {fmt!r} UTC")
        return parsed
    try:
        iso = datetime.fromisoformat(clean.replace("Z", "+00:00"))
    except ValueError:
        notes.append(f"date {text!r} is in no known format; no start time")
        return None
    notes.append(f"date {text!r} is ISO, not the documented format")
    return iso.astimezone(UTC) if iso.tzinfo else iso.replace(tzinfo=UTC)


def read_strava_activities_csv(data: bytes) -> SummaryFile:
    """Read a Strava ``activities.csv``: the first of each duplicated column, by position."""
    file_notes: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        file_notes.append("activities.csv is not UTF-8; read as Windows-1252")
    if "\x00" in text:
        raise ExportFormatError(
            "not_strava_csv", "activities.csv holds binary data; pass the file from the export"
        )
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise ExportFormatError(
            "not_strava_csv",
            f"activities.csv is not a readable CSV ({exc}); pass the file from the export",
        ) from exc
    header = [h.strip() for h in rows[0]] if rows else []
    pos: dict[str, int] = {}
    for key, names in _STRAVA_COLUMNS.items():
        found = [header.index(n) for n in names if n in header]  # index() = first occurrence
        if found:
            pos[key] = found[0]
    if "id" not in pos or "date" not in pos:
        raise ExportFormatError(
            "not_strava_csv",
            "activities.csv has no 'Activity ID' and 'Activity Date' header; pass the "
            "activities.csv from the root of a Strava bulk export",
        )
    missing = [names[0] for key, names in _STRAVA_COLUMNS.items() if key not in pos]
    if missing:
        file_notes.append(f"columns missing: {missing}; those fields are empty")
    summaries: list[ActivitySummary] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        notes: list[str] = []
        if len(row) != len(header):
            notes.append(f"row has {len(row)} cells, header {len(header)}")

        def cell(key: str, row: list[str] = row) -> str | None:
            i = pos.get(key)
            value = row[i].strip() if i is not None and i < len(row) else ""
            return value or None

        source_id = cell("id")
        if source_id is None:
            file_notes.append(f"line {line} skipped: no Activity ID")
            continue
        date = cell("date")
        start = _strava_date(date, notes) if date else None
        if date is None:
            notes.append("no Activity Date")
        elapsed = _num(cell("elapsed"))
        if cell("elapsed") is not None and elapsed is None:
            notes.append(f"Elapsed Time {cell('elapsed')!r} is not a number")
        summaries.append(
            ActivitySummary(
                source=ExportSource.STRAVA_CSV,
                source_id=source_id,
                title=cell("name"),
                activity_type=cell("type"),
                start_utc=start,
                duration_s=elapsed if elapsed is not None and elapsed >= 0 else None,
                file_name=cell("file"),
                unexpected=tuple(notes),
            )
        )
    return SummaryFile(ExportSource.STRAVA_CSV, tuple(summaries), tuple(file_notes))


def parse_strava_activities_csv(data: bytes) -> list[ActivitySummary]:
    """The rows of a Strava ``activities.csv`` (file notes: ``read_strava_activities_csv``)."""
    return list(read_strava_activities_csv(data).summaries)
