"""Zip archives in a run: a scratch folder per run, unpacking, and the archive's own ``files`` row.

``archives.py`` reads a zip safely (limits, names, nesting); this module places its members in a
folder of the run (removed at the end, and left-overs of dead runs cleared) and records the
archive itself, so that the same archive is not unpacked twice. I/O: the file system and the store.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.fit import PARSER_VERSION
from pipeline.ingest.archives import ArchiveLimits, ArchiveProblem, ArchiveResult, expand_archive
from pipeline.ingest.outcomes import FileOutcome, FileStatus, same_bytes
from pipeline.store import db as st
from pipeline.store import ingest_sql as q

#: Name of the folders ``unpack_workspace`` makes: ``run-<pid>-<random>``.
_RUN_DIR = re.compile(r"run-(\d+)-[A-Za-z0-9_]+")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def unpack_workspace(root: Path) -> Iterator[Path]:
    """A fresh folder under ``root`` for the zip members of one run, removed when it ends.

    The folder is created only when a zip is unpacked into it (most runs have none, and a store
    folder that cannot be written is then reported by the store, not here). The members are
    copies (their bytes stay in the archive), so nothing is lost by removing them. Folders left
    by runs that died (their process is gone) are removed on the way in, so a SIGKILL leaves at
    most one folder behind until the next run.
    """
    with contextlib.suppress(OSError):
        for old in root.iterdir():
            m = _RUN_DIR.fullmatch(old.name)
            if m and old.is_dir() and not _alive(int(m.group(1))):
                shutil.rmtree(old, ignore_errors=True)
    folder = root / f"run-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty: another run may be using it


@dataclass
class Unpacked:
    path: Path
    athlete_id: str
    sha256: str
    size: int
    result: ArchiveResult


def unpack(
    path: Path, athlete_id: str, sha256: str, unpack_dir: Path, limits: ArchiveLimits | None
) -> Unpacked:
    """Unpack one archive (its hash is the plan's) into a folder of ``unpack_dir``."""
    result = expand_archive(path, unpack_dir / sha256[:16], limits=limits or ArchiveLimits())
    return Unpacked(path, athlete_id, sha256, path.stat().st_size, result)


def _listing(problems: Sequence[ArchiveProblem], most: int = 3) -> str:
    shown = "; ".join(f"{p.member} ({p.reason_code}: {p.message})" for p in problems[:most])
    return shown + (f"; and {len(problems) - most} more" if len(problems) > most else "")


def record_archive(store: st.Store, u: Unpacked, now: datetime) -> FileOutcome:
    """A ``files`` row for the archive itself, so that the same archive is not unpacked twice.

    An archive some of whose FIT members could not be taken (encrypted, symlinks, unreadable)
    is ``partial``: it is stored, and its message names what was lost. A member taken under a
    safe name is noted, not counted as lost.
    """
    n = len(u.result.extracted)
    lost = [p for p in u.result.problems if p.lost]
    renamed = [p for p in u.result.problems if not p.lost]
    status: FileStatus
    code: str | None
    if u.result.refused:
        first = u.result.problems[0] if u.result.problems else None
        status, code = FileStatus.QUARANTINED, first.reason_code if first else "zip_corrupt"
        message = first.message if first else "the archive could not be read"
    else:
        status, code = (
            (FileStatus.PARTIAL, lost[0].reason_code) if lost else (FileStatus.STORED, None)
        )
        n_sum = len(u.result.summaries)
        message = f"archive: {n} FIT file(s) unpacked and ingested (each has its own row)"
        if n_sum:
            message += f"; {n_sum} export summary file(s) read"
        if lost:
            message += f"; {len(lost)} member(s) not taken: {_listing(lost)}"
        if renamed:
            message += f"; {len(renamed)} member(s) renamed to stay inside: {_listing(renamed)}"
    known = q.known_files(store, u.athlete_id, [u.sha256]).get(u.sha256)
    if known is not None:  # another run recorded the same archive meanwhile
        with store.transaction():
            q.record_sightings(store, [(u.athlete_id, u.sha256, str(u.path), now)])
        return same_bytes(str(u.path), u.athlete_id, u.sha256, known[1], known[0])
    with store.transaction():
        q.record_sightings(store, [(u.athlete_id, u.sha256, str(u.path), now)])
        q.insert_file_row(
            store,
            {
                "athlete_id": u.athlete_id,
                "sha256": u.sha256,
                "status": status.value,
                "reason_code": code,
                "message": message,
                "original_name": u.path.name,
                "size_bytes": u.size,
                "file_type": "gzip" if u.path.name.lower().endswith(".gz") else "zip_archive",
                "n_activities": 0,
                "parser_version": PARSER_VERSION,
                "first_seen_utc": now,
            },
        )
    return FileOutcome(str(u.path), u.athlete_id, u.sha256, status, code, message)
