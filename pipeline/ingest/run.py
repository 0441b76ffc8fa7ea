"""The one composition root of "ingest these paths": collect -> plan -> parse -> write.

``ingest_paths`` is what the CLI, the inbox, the nightly sweep and the Dask backfill call, so they
cannot drift: the same selection of files, zip archives unpacked in every entry point, every file
read and hashed once (``plan``), parsed by local processes or by a ``Parser`` the caller passes
(the backfill's Prefect task runner), written by the single writer, and a summary that says
whether the derived tables need a refresh. ``ingest_files`` is the same run for ``(path,
athlete)`` pairs and an explicit store. The caller passes ``now``. I/O: files and the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pipeline.config import Settings
from pipeline.errors import StoreUnavailable
from pipeline.ingest.archives import ArchiveLimits, is_archive
from pipeline.ingest.collect import collect_files
from pipeline.ingest.outcomes import FileOutcome, IngestSummary, ProgressCallback
from pipeline.ingest.plan import InRun, ParseJob, plan_ingest
from pipeline.ingest.unpack import Unpacked, record_archive, unpack, unpack_workspace
from pipeline.ingest.workers import Parser, ProcessParser
from pipeline.ingest.writer import write_results
from pipeline.store import db as st

#: Where a store's runs unpack zips when no folder is given: beside the store, hidden (the same
#: place as ``Settings.unpack_root``).
UNPACK_FOLDER = ".legday-unpacked"


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path] | Sequence[tuple[Path, str]],
    *,
    now: datetime,
    workers: int = 1,
    parser: Parser | None = None,
    on_wait: st.WaitCallback | None = None,
    on_progress: ProgressCallback | None = None,
    unpack_dir: Path | None = None,
) -> IngestSummary:
    """Ingest files and folders (for the default athlete), or ``(path, athlete)`` pairs.

    Folders are walked with the one selection rule (``collect.collect_files``; what is left out
    is in ``summary.skipped``); pairs are taken as given (the inbox has chosen them). Zip
    archives are unpacked in a folder of this run beside the store. ``parser`` replaces the
    local pool of ``workers`` processes. ``unpack_dir`` (see ``unpack.unpack_workspace``) is for a
    caller that handles zip members after the run (the inbox files them away); by default the
    members are removed at the end. ``summary.needs_refresh`` says whether to refresh.
    """
    skipped: list[Path] = []
    if paths and not isinstance(paths[0], tuple):
        files, skipped = collect_files([Path(p) for p in paths])  # type: ignore[arg-type]
        # A path that vanished between the listing and now (a broken link) has nothing to say.
        items = [(f, settings.default_athlete) for f in files if f.exists()]
    else:
        items = [(Path(p), a) for p, a in paths]  # type: ignore[misc]
    summary = ingest_files(
        settings.db_path,
        items,
        now=now,
        workers=workers,
        parser=parser,
        progress=on_progress,
        on_wait=on_wait,
        unpack_dir=unpack_dir,
        unpack_root=settings.unpack_root,
    )
    summary.skipped = skipped
    return summary


def ingest_files(
    db_path: Path,
    items: Sequence[tuple[Path, str]],
    *,
    now: datetime,
    workers: int = 1,
    parser: Parser | None = None,
    progress: ProgressCallback | None = None,
    on_wait: st.WaitCallback | None = None,
    batch_seconds: float = 2.0,
    lock_timeout_s: float = 600.0,
    unpack_dir: Path | None = None,
    unpack_root: Path | None = None,
    archive_limits: ArchiveLimits | None = None,
) -> IngestSummary:
    """Ingest ``(path, athlete_id)`` pairs into the store at ``db_path``.

    ``workers`` processes parse in parallel (or ``parser``); the calling process is the single
    writer. Zip archives (Garmin exports, nested zips too) are unpacked into ``unpack_dir``, or
    a fresh folder of this run under ``unpack_root`` (default: beside the store), within
    ``archive_limits`` (a zip bomb is refused), and their FIT files ingested; their outcomes
    carry ``member_of``. The same bytes twice in one run (a file and a zip holding it) are
    ingested once, the repeat is a duplicate.
    """
    if unpack_dir is None:
        with unpack_workspace(unpack_root or db_path.parent / UNPACK_FOLDER) as folder:
            return _ingest(
                db_path, items, now, parser or ProcessParser(workers), progress, on_wait,
                batch_seconds, lock_timeout_s, folder, archive_limits,
            )  # fmt: skip
    return _ingest(
        db_path, items, now, parser or ProcessParser(workers), progress, on_wait,
        batch_seconds, lock_timeout_s, unpack_dir, archive_limits,
    )  # fmt: skip


def _ingest(
    db_path: Path,
    items: Sequence[tuple[Path, str]],
    now: datetime,
    parser: Parser,
    progress: ProgressCallback | None,
    on_wait: st.WaitCallback | None,
    batch_seconds: float,
    lock_timeout_s: float,
    unpack_dir: Path,
    archive_limits: ArchiveLimits | None,
) -> IngestSummary:
    started = time.monotonic()
    summary = IngestSummary()
    member_of: dict[str, str] = {}  # extracted path -> archive path

    def done(outcome: FileOutcome) -> None:
        archive = member_of.get(outcome.path)
        if archive is not None:
            outcome = replace(outcome, member_of=archive)
        summary.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    in_run: InRun = {}
    plan = plan_ingest(
        db_path, items, now=now, on_wait=on_wait, lock_timeout_s=lock_timeout_s, in_run=in_run
    )
    for outcome in plan.decided:
        done(outcome)
    jobs: list[ParseJob] = [j for j in plan.jobs if not is_archive(Path(j.path))]
    archives = [j for j in plan.jobs if is_archive(Path(j.path))]
    unpacked: list[Unpacked] = []
    seen_as: dict[str, str] = {}
    if archives:
        try:
            unpacked = [
                unpack(Path(j.path), j.athlete_id, j.sha256, unpack_dir, archive_limits)
                for j in archives
            ]
        except OSError as exc:  # the disk or the folder, not the archive: keep it for later
            raise StoreUnavailable(
                f"cannot unpack zip archives into {unpack_dir} ({exc}); free space or fix "
                "the folder's permissions and run again: nothing was lost"
            ) from exc
        members: list[tuple[Path, str]] = []
        for u in unpacked:
            for m in u.result.extracted:
                member_of[str(m)] = str(u.path)
                seen_as[str(m)] = f"{u.path}!{m.name}"
                members.append((m, u.athlete_id))
        sub = plan_ingest(
            db_path,
            members,
            now=now,
            on_wait=on_wait,
            lock_timeout_s=lock_timeout_s,
            in_run=in_run,
            seen_as=seen_as,
        )
        for outcome in sub.decided:
            done(outcome)
        jobs += sub.jobs
    sha_of = {j.path: j.sha256 for j in jobs}
    del plan
    write_results(
        db_path,
        ((job.path, job.athlete_id, result) for job, result in parser(_drain(jobs), now)),
        now=now,
        on_done=done,
        on_wait=on_wait,
        batch_seconds=batch_seconds,
        lock_timeout_s=lock_timeout_s,
        seen_as=seen_as,
        sha_of=sha_of,
    )
    if unpacked:
        # Recorded last: an archive killed half-way is unpacked again next time, and its
        # members already stored are then plain duplicates.
        with st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait) as store:
            for u in unpacked:
                done(record_archive(store, u, now))
    summary.seconds = time.monotonic() - started
    return summary


def _drain(jobs: list[ParseJob]) -> list[ParseJob]:
    """Hand the jobs over and forget them here, so that their bytes go once they are parsed."""
    out = list(jobs)
    jobs.clear()
    return out
