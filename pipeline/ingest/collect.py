"""Which files an ingest takes: the one file-selection rule set of the CLI, the flows and the inbox.

- In a folder (walked recursively, sorted), only the files legday reads are taken (``file_kind``,
  names in any case): ``*.fit`` files, ``*.zip`` archives (Garmin and Strava exports), gzipped
  FIT files (``*.fit.gz``, as in a Strava export), calendars (``*.ics``) and the summary files of
  an unpacked export (``activities.csv``, ``*summarizedActivities.json``). Hidden files and
  folders are left alone, and so are symlinks that lead out of the folder.
- A file named explicitly is taken whatever its name, so that a mistake gets a clear quarantine
  reason instead of silence; any other ``.csv`` or ``.json`` named explicitly is read as an
  export summary (Strava's CSV or Garmin's JSON) and quarantined with a reason if it is not one.
- Names of files still being written (``.part``, ``.crdownload``, ``~`` backups, dotfiles) are
  temporary: the inbox waits until they are renamed (``is_temporary_name``).

Reads the file system (folder listings), never file contents.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path


class FileKind(StrEnum):
    """What a file is to ingest, by its name: where it is routed."""

    FIT = "fit"  # parsed by the workers: an activity, or a workout/schedule plan file
    ARCHIVE = "archive"  # a zip (exports, nested zips) or a ``.fit.gz``: unpacked, members routed
    CALENDAR = "calendar"  # an iCalendar file: planned workouts (``pipeline.plans``)
    GARMIN_SUMMARY = "garmin_summary"  # DI-Connect-Fitness/*_summarizedActivities.json
    STRAVA_CSV = "strava_csv"  # a Strava bulk export's activities.csv


def file_kind(path: Path, *, explicit: bool = True) -> FileKind | None:
    """The kind of a file by its name; None for a name not taken when walking a folder.

    ``explicit`` (a file named by the person, or dropped in the inbox): a name that is none of
    the others is FIT, so that a mistake is quarantined with a reason by the parser.
    """
    lower = path.name.lower()
    if lower.endswith((".zip", ".fit.gz")):
        return FileKind.ARCHIVE
    if lower.endswith(".ics"):
        return FileKind.CALENDAR
    if lower.endswith("summarizedactivities.json") or (explicit and lower.endswith(".json")):
        return FileKind.GARMIN_SUMMARY
    if lower == "activities.csv" or (explicit and lower.endswith(".csv")):
        return FileKind.STRAVA_CSV
    if lower.endswith(".fit") or explicit:
        return FileKind.FIT
    return None


#: Names of files still being downloaded or written by an editor; taken once renamed.
TEMPORARY_SUFFIXES = (".part", ".crdownload", ".tmp", ".partial", ".download", ".swp")


def is_temporary_name(name: str) -> bool:
    """True for dotfiles, ``~`` backups and partial-download names (``.part``, ``.crdownload``...)."""
    lowered = name.lower()
    return name.startswith(".") or name.endswith("~") or lowered.endswith(TEMPORARY_SUFFIXES)


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Files to ingest from files and folders (recursive, sorted); plus what was skipped."""
    taken: list[Path] = []
    skipped: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            root = p.resolve()
            for sub in sorted(p.rglob("*")):
                if not sub.is_file() or any(
                    part.startswith(".") for part in sub.relative_to(p).parts
                ):
                    continue
                if sub.is_symlink() and not sub.resolve().is_relative_to(root):
                    skipped.append(sub)
                    continue
                (taken if file_kind(sub, explicit=False) else skipped).append(sub)
        else:
            taken.append(p)
    return taken, skipped
