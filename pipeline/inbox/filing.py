"""Filing inbox files away, only after the store has committed their outcome.

``ingest_and_file`` ingests ready files through the one composition root
(``pipeline.ingest.ingest_paths``) and then moves them: ingested files to
``<data_dir>/archive/YYYY/MM/`` (month of the activity start in the athlete's zone, else of
arrival), quarantined ones to ``<data_dir>/quarantine/`` with a ``<name>.reason.txt`` beside
them. A crash between commit and move leaves a file whose bytes the store knows: the next run
records it as a duplicate and archives it. Nothing is overwritten and nothing is deleted that
was not copied first. I/O: moves files, reads and writes the store (sightings).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.errors import LegdayError
from pipeline.inbox.scan import InboxFile, archive_dir, quarantine_dir
from pipeline.ingest.outcomes import KEPT, FileOutcome, IngestSummary
from pipeline.ingest.run import ingest_paths
from pipeline.ingest.unpack import unpack_workspace
from pipeline.store import db as st
from pipeline.store import ingest_sql as q

#: Outcomes that send a file to the archive (everything else goes to quarantine).
ARCHIVED = KEPT


def _candidates(name: str) -> Iterable[str]:
    yield name
    p = Path(name)
    n = 1
    while True:
        yield f"{p.stem}-{n}{p.suffix}"
        n += 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def move_no_clobber(src: Path, folder: Path, *, sha256: str | None = None) -> Path:
    """Move ``src`` into ``folder`` under its name, or ``name-1``, ``name-2``... never overwriting.

    When a file of that name already holds the same bytes (``sha256``), it *is* the copy: the
    source is removed and that path returned (a move interrupted after the copy, re-run).
    Same file system: a hard link (atomic, fails if the name exists) then unlink; otherwise an
    exclusive create, copy and fsync, then unlink. The source goes only after the copy is whole.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in _candidates(src.name):
        target = folder / name
        if target.exists():
            if sha256 is not None and target.is_file() and _sha256(target) == sha256:
                src.unlink()
                return target
            continue
        try:
            os.link(src, target)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise
            try:
                with src.open("rb") as fin, target.open("xb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                    fout.flush()
                    os.fsync(fout.fileno())
            except FileExistsError:
                continue
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            shutil.copystat(src, target)
        src.unlink()
        return target
    raise AssertionError("unreachable")  # pragma: no cover


def reason_text(outcome: FileOutcome, when: datetime) -> str:
    """The ``.reason.txt`` beside a quarantined file."""
    return (
        f"file: {outcome.name}\n"
        f"athlete: {outcome.athlete_id}\n"
        f"status: {outcome.status}\n"
        f"reason_code: {outcome.reason_code or ''}\n"
        f"message: {outcome.message or ''}\n"
        f"sha256: {outcome.sha256 or ''}\n"
        f"when: {when.astimezone(UTC).isoformat()}\n"
    )


@dataclass(frozen=True)
class Filed:
    """Where an ingested file went (``destination`` None when it could not be moved).

    For a FIT file unpacked from a zip and not quarantined, ``destination`` is where its zip
    went (``in_archive``): the extracted copy is removed, its bytes are in the zip and the store.
    """

    outcome: FileOutcome
    destination: Path | None
    error: str | None = None
    in_archive: bool = False


def archive_month(start_utc: datetime | None, arrived_utc: datetime, tz: ZoneInfo) -> str:
    """``YYYY/MM`` of the activity start in the athlete's zone, else of arrival."""
    local = (start_utc or arrived_utc).astimezone(tz)
    return f"{local.year:04d}/{local.month:02d}"


def file_away(
    outcome: FileOutcome,
    settings: Settings,
    *,
    start_utc: datetime | None,
    now: datetime,
) -> Filed:
    """Move one file whose outcome is committed: to the archive, or to quarantine with a reason."""
    src = Path(outcome.path)
    if not src.exists() or src.is_symlink():
        return Filed(outcome, None, "the file was no longer in the inbox (taken by another run?)")
    try:
        if outcome.status in ARCHIVED:
            tz = settings.athlete(outcome.athlete_id).tz
            folder = archive_dir(settings) / archive_month(start_utc, now, tz)
            return Filed(outcome, move_no_clobber(src, folder, sha256=outcome.sha256))
        target = move_no_clobber(src, quarantine_dir(settings), sha256=outcome.sha256)
        reason = target.with_name(target.name + ".reason.txt")
        tmp = reason.with_name(reason.name + ".tmp")
        tmp.write_text(reason_text(outcome, now), encoding="utf-8")
        tmp.replace(reason)
        return Filed(outcome, target)
    except (OSError, LegdayError) as exc:
        return Filed(outcome, None, f"could not move the file: {exc}")


def activity_starts(store: st.Store, outcomes: Sequence[FileOutcome]) -> dict[str, datetime]:
    """Earliest activity start (UTC) per outcome path, from its own or its duplicate's file."""
    out: dict[str, datetime] = {}
    for o in outcomes:
        shas = [s for s in (o.sha256, o.duplicate_of) if s]
        if not shas:
            continue
        value = q.earliest_start(store, o.athlete_id, shas)
        if value is not None:
            out[o.path] = value
    return out


@dataclass
class InboxRun:
    """What one ingest of inbox files did: the ingest summary and where each file went."""

    summary: IngestSummary
    filed: list[Filed]

    def counts(self) -> dict[str, int]:
        return self.summary.counts()

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": self.counts(),
            "seconds": round(self.summary.seconds, 3),
            "files": [
                {
                    "file": f.outcome.name,
                    "athlete": f.outcome.athlete_id,
                    "status": f.outcome.status,
                    "reason_code": f.outcome.reason_code,
                    "message": f.outcome.message,
                    "destination": str(f.destination) if f.destination else None,
                    "in_archive": f.in_archive,
                    "error": f.error,
                }
                for f in self.filed
            ],
        }


def ingest_and_file(
    settings: Settings,
    files: Sequence[InboxFile],
    *,
    now: datetime,
    workers: int = 1,
    on_wait: st.WaitCallback | None = None,
    on_filed: Callable[[Filed], None] | None = None,
) -> InboxRun:
    """Ingest inbox files into the store, then move each one (after its outcome is committed).

    Zip members are extracted into a folder of this run beside the store, removed at the end:
    a member that is stored, partial or a duplicate lives on in its archived zip; a quarantined
    one is moved to the quarantine folder with its reason, like a loose file. Where each file
    went is recorded as a sighting, so the store (and the report) says where it is now.
    """
    with unpack_workspace(settings.unpack_root) as unpack_dir:
        # The run's unpack folder is ours: quarantined zip members are moved out of it below.
        summary = ingest_paths(
            settings,
            [(f.path, f.athlete_id) for f in files],
            now=now,
            workers=workers,
            on_wait=on_wait,
            unpack_dir=unpack_dir,
        )
        starts: dict[str, datetime] = {}
        to_archive = [o for o in summary.outcomes if o.status in ARCHIVED and o.member_of is None]
        if to_archive:
            try:
                with st.open_store(
                    settings.db_path, read_only=True, timeout_s=60, on_wait=on_wait
                ) as store:
                    starts = activity_starts(store, to_archive)
            except LegdayError:
                starts = {}  # archived by arrival month; the files table still knows everything
        filed: list[Filed] = []
        holders: dict[str, Filed] = {}

        def emit(done: Filed) -> None:
            filed.append(done)
            if on_filed is not None:
                on_filed(done)

        for o in summary.outcomes:
            if o.member_of is None:
                holders[o.path] = done = file_away(
                    o, settings, start_utc=starts.get(o.path), now=now
                )
                emit(done)
        for o in summary.outcomes:
            if o.member_of is None:
                continue
            if o.status in ARCHIVED:
                holder = holders.get(o.member_of)
                where = holder.destination if holder else None
                error = holder.error if holder else None
                emit(Filed(o, where, error, in_archive=True))
            else:
                emit(file_away(o, settings, start_utc=None, now=now))
    # Filed after the ingest: the sighting of the new place is later than the inbox's (by the
    # run's own measured duration), so "where it was seen last" is where it is now.
    filed_at = now + timedelta(seconds=max(summary.seconds, 1e-3))
    _record_destinations(settings, filed, now=filed_at, on_wait=on_wait)
    return InboxRun(summary, filed)


def _record_destinations(
    settings: Settings,
    filed: Sequence[Filed],
    *,
    now: datetime,
    on_wait: st.WaitCallback | None,
) -> None:
    """Sightings at the files' new places, so ``file_sightings`` says where each file is now."""
    rows = []
    for f in filed:
        o = f.outcome
        if f.destination is None or o.sha256 is None:
            continue
        where = f"{f.destination}!{Path(o.path).name}" if f.in_archive else str(f.destination)
        rows.append((o.athlete_id, o.sha256, where, now))
    if not rows:
        return
    # A busy or broken store only loses the record of where (the files are filed, and the
    # next sighting of the same bytes adds it): never worth failing the run for.
    with (
        contextlib.suppress(LegdayError),
        st.open_store(settings.db_path, timeout_s=60, on_wait=on_wait) as store,
        store.transaction(),
    ):
        q.record_sightings(store, rows)
