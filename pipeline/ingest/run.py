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
from pipeline.ingest.archives import ArchiveLimits
from pipeline.ingest.collect import FileKind, collect_files, file_kind
from pipeline.ingest.outcomes import FileOutcome, IngestSummary, ProgressCallback
from pipeline.ingest.plan import InRun, ParseJob, plan_ingest
from pipeline.ingest.side import SideJob, ingest_side_files, rebuild_plans, strava_names
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
        settings=settings,
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
    settings: Settings | None = None,
) -> IngestSummary:
    """Ingest ``(path, athlete_id)`` pairs into the store at ``db_path``.

    ``workers`` processes parse in parallel (or ``parser``); the calling process is the single
    writer. Zip archives (Garmin exports, nested zips too) are unpacked into ``unpack_dir``, or
    a fresh folder of this run under ``unpack_root`` (default: beside the store), within
    ``archive_limits`` (a zip bomb is refused), and their FIT files ingested; their outcomes
    carry ``member_of``. The same bytes twice in one run (a file and a zip holding it) are
    ingested once, the repeat is a duplicate. Export summaries and calendars (``side.py``) are
    stored after the FIT files; ``settings`` gives calendars their athlete's zone and rebuilds
    the plans of FIT workout/schedule files.
    """
    if unpack_dir is None:
        with unpack_workspace(unpack_root or db_path.parent / UNPACK_FOLDER) as folder:
            return _ingest(
                db_path, items, now, parser or ProcessParser(workers), progress, on_wait,
                batch_seconds, lock_timeout_s, folder, archive_limits, settings,
            )  # fmt: skip
    return _ingest(
        db_path, items, now, parser or ProcessParser(workers), progress, on_wait,
        batch_seconds, lock_timeout_s, unpack_dir, archive_limits, settings,
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
    settings: Settings | None,
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
    routes = _Routes()
    routes.sort(plan.jobs)
    unpacked: list[Unpacked] = []
    seen_as: dict[str, str] = {}
    if routes.archives:
        try:
            unpacked = [
                unpack(Path(j.path), j.athlete_id, j.sha256, unpack_dir, archive_limits)
                for j in routes.archives
            ]
        except OSError as exc:  # the disk or the folder, not the archive: keep it for later
            raise StoreUnavailable(
                f"cannot unpack zip archives into {unpack_dir} ({exc}); free space or fix "
                "the folder's permissions and run again: nothing was lost"
            ) from exc
        members: list[tuple[Path, str]] = []
        for u in unpacked:
            found = [*u.result.extracted, *(x.path for x in u.result.summaries)]
            for m in found:
                member_of[str(m)] = str(u.path)
                seen_as[str(m)] = f"{u.path}!{m.name}"
                members.append((m, u.athlete_id))
            routes.note_archive(u)
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
        routes.sort(sub.jobs)
    jobs = routes.fits
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
    # Summaries after the FIT files, so that a Strava row finds the hash of its file.
    sha_at = {o.path: o.sha256 for o in summary.outcomes if o.sha256}
    for outcome in ingest_side_files(
        db_path,
        routes.side_jobs(seen_as),
        settings=settings,
        sha_at=sha_at,
        now=now,
        lock_timeout_s=lock_timeout_s,
        on_wait=on_wait,
    ):
        done(outcome)
    summary.plan_notes = rebuild_plans(
        db_path, summary.outcomes, settings, now, lock_timeout_s=lock_timeout_s, on_wait=on_wait
    )
    if unpacked:
        # Recorded last: an archive killed half-way is unpacked again next time, and its
        # members already stored are then plain duplicates.
        with st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait) as store:
            for u in unpacked:
                done(record_archive(store, u, now))
    summary.seconds = time.monotonic() - started
    return summary


class _Routes:
    """The jobs of a run by where they go, and the places that tie a Strava CSV to its FIT files.

    Zip members: their kind comes from the archive reader (a summary by its place in the
    export); loose files: from their name (``collect.file_kind``).
    """

    def __init__(self) -> None:
        self.fits: list[ParseJob] = []
        self.archives: list[ParseJob] = []
        self.side: list[ParseJob] = []
        self.kind: dict[str, FileKind] = {}  # side file path -> kind
        self.fit_names: dict[str, dict[str, str]] = {}  # CSV path -> its rows' names -> paths
        self.loose_fits: dict[str, str] = {}  # a loose FIT or .fit.gz as given -> path now
        self.loose_csvs: list[str] = []

    def sort(self, jobs: list[ParseJob]) -> None:
        for j in jobs:
            kind = self.kind.get(j.path) or file_kind(Path(j.path)) or FileKind.FIT
            if kind is FileKind.ARCHIVE:
                self.archives.append(j)
            elif kind is FileKind.FIT:
                self.fits.append(j)
                self.loose_fits.setdefault(j.path, j.path)
            else:
                self.kind[j.path] = kind
                self.side.append(j)
                if kind is FileKind.STRAVA_CSV and j.path not in self.fit_names:
                    self.loose_csvs.append(j.path)

    def note_archive(self, u: Unpacked) -> None:
        """Name the summaries of an unpacked archive, and what a Strava CSV in it points at."""
        if u.path.name.lower().endswith(".fit.gz"):  # a loose gzipped FIT: known by its name
            for m in u.result.extracted:
                self.loose_fits[str(u.path)] = str(m)
        for x in u.result.summaries:
            self.kind[str(x.path)] = FileKind(x.source.value)
            if x.source.value == FileKind.STRAVA_CSV:
                fits = {
                    inner.name: str(p)
                    for p, inner in u.result.inner.items()
                    if inner.archive == x.inner.archive
                }
                self.fit_names[str(x.path)] = strava_names(x.inner.name, fits)

    def side_jobs(self, seen_as: dict[str, str]) -> list[SideJob]:
        for csv in self.loose_csvs:
            self.fit_names[csv] = strava_names(csv, self.loose_fits)
        return [
            SideJob(
                j.path,
                j.athlete_id,
                j.sha256,
                self.kind[j.path],
                seen_as.get(j.path, j.path),
                self.fit_names.get(j.path),
            )
            for j in self.side
        ]


def _drain(jobs: list[ParseJob]) -> list[ParseJob]:
    """Hand the jobs over and forget them here, so that their bytes go once they are parsed."""
    out = list(jobs)
    jobs.clear()
    return out
