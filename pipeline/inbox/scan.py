"""Which files of the inbox to take, whose they are, and what is left alone (and why).

A file at the top of the inbox belongs to the default athlete; ``inbox/<folder>/...`` to the
athlete that folder maps to (``[inbox_athletes]`` or an athlete's own name), never a guess.
Temporary download names (the rule of ``pipeline.ingest.collect``) and symlinks are skipped.
Reads folder listings only, never file contents.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.ingest.collect import is_temporary_name


def archive_dir(settings: Settings) -> Path:
    return settings.data_dir / "archive"


def quarantine_dir(settings: Settings) -> Path:
    return settings.data_dir / "quarantine"


@dataclass(frozen=True)
class InboxFile:
    """A file in the inbox and the athlete it belongs to."""

    path: Path
    athlete_id: str


@dataclass(frozen=True)
class Skipped:
    """A file or folder of the inbox that is left alone, and why."""

    path: Path
    reason: str  # temporary | symlink_outside | symlink | unknown_athlete_folder
    message: str


def athlete_for(relative: Path, settings: Settings) -> str | None:
    """The athlete of a file at ``relative`` (to the inbox): its top folder, or the default one.

    ``settings.inbox_athletes`` maps folder names to athletes first; a folder named after a
    configured athlete maps to that athlete; any other folder maps to nobody (None), because
    guessing would mix two people's training.
    """
    if len(relative.parts) <= 1:
        return settings.default_athlete
    folder = relative.parts[0]
    if folder in settings.inbox_athletes:
        return settings.inbox_athletes[folder]
    return folder if folder in settings.athletes else None


def classify_path(inbox: Path, path: Path, settings: Settings) -> InboxFile | Skipped:
    """Decide about one path inside the inbox: take it (with its athlete) or skip it (why)."""
    relative = path.relative_to(inbox)
    if any(is_temporary_name(part) for part in relative.parts):
        return Skipped(path, "temporary", "temporary or hidden name; taken once renamed")
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(inbox.resolve()):
            return Skipped(
                path,
                "symlink_outside",
                f"symlink to {target}, outside the inbox: not followed, moved or deleted",
            )
        return Skipped(path, "symlink", "symlink inside the inbox: its target is taken instead")
    athlete = athlete_for(relative, settings)
    if athlete is None:
        return Skipped(
            path,
            "unknown_athlete_folder",
            f"folder {relative.parts[0]!r} is not a configured athlete; add it to "
            "[athletes] or [inbox_athletes] in legday.toml",
        )
    return InboxFile(path, athlete)


def scan_inbox(
    inbox: Path, settings: Settings, *, exclude: Sequence[Path] = ()
) -> tuple[list[InboxFile], list[Skipped]]:
    """Files of the inbox to take (sorted) and what was skipped; ``exclude`` prunes folders."""
    inbox = Path(inbox)
    pruned = {p.resolve() for p in exclude}
    taken: list[InboxFile] = []
    skipped: list[Skipped] = []
    for folder, dirs, files in os.walk(inbox, followlinks=False):
        base = Path(folder)
        keep = []
        for d in sorted(dirs):
            sub = base / d
            if d.startswith(".") or sub.resolve() in pruned:
                continue
            if sub.is_symlink():
                verdict = classify_path(inbox, sub, settings)
                if isinstance(verdict, Skipped):
                    skipped.append(verdict)
                continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            verdict = classify_path(inbox, base / name, settings)
            (taken if isinstance(verdict, InboxFile) else skipped).append(verdict)  # type: ignore[arg-type]
    taken.sort(key=lambda f: str(f.path))
    return taken, skipped
