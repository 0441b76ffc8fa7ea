"""Which files an ingest takes: the one file-selection rule set of the CLI, the flows and the inbox.

- In a folder (walked recursively, sorted), only ``*.fit`` files and ``*.zip`` archives (Garmin
  exports) are taken, in any case; hidden files and folders are left alone, and so are symlinks
  that lead out of the folder.
- A file named explicitly is taken whatever its name, so that a mistake gets a clear quarantine
  reason instead of silence.
- Names of files still being written (``.part``, ``.crdownload``, ``~`` backups, dotfiles) are
  temporary: the inbox waits until they are renamed (``is_temporary_name``).

Reads the file system (folder listings), never file contents.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: Extensions taken when walking a folder; a file named explicitly is always taken.
FIT_SUFFIXES = (".fit", ".zip")
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
                (taken if sub.suffix.lower() in FIT_SUFFIXES else skipped).append(sub)
        else:
            taken.append(p)
    return taken, skipped
