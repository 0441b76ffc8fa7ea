"""The files of an ingest that are not activities: export summaries, calendars, FIT plan files.

``pipeline.ingest.run`` routes each file by its kind (``collect.file_kind``); the FIT files go to
the parsers and the writer, the others come here, after the writer, in the same run:

- an export summary file (Garmin ``*_summarizedActivities.json``, Strava ``activities.csv``) is
  read (``pipeline.exports``) and its summaries stored (``exports.service``); matching them to
  activities is the refresh's job, so a summary may come before or after its FIT file. A Strava
  row names its FIT file (``activities/123.fit.gz``): the FIT files of the same export (the same
  zip, or the same folder) give the hash of what was stored from each name;
- a calendar (``.ics``) replaces the plans that calendar gave before (``plans.service``);
- FIT workout and schedule files were stored by the writer; the athlete's plans from them are
  rebuilt once per run (``plans.service.rebuild_fit_plans``).

Each file gets a ``files`` row and an outcome like any other: a file that is not what its name
says is quarantined with the reader's reason. I/O: reads the files, writes the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from pipeline.config import Settings
from pipeline.errors import LegdayError
from pipeline.exports.garmin import read_garmin_summaries
from pipeline.exports.service import store_summary_file
from pipeline.exports.strava import read_strava_activities_csv
from pipeline.exports.types import ExportFormatError, ExportSource, SummaryFile
from pipeline.fit import PARSER_VERSION, read_file
from pipeline.ingest.collect import FileKind
from pipeline.ingest.outcomes import FileOutcome, FileStatus, IngestReason
from pipeline.plans import service as plans
from pipeline.plans.model import PlanFileError
from pipeline.store import db as st
from pipeline.store import ingest_sql as q

#: ``files.file_type`` of the side files (FIT files carry their own ``file_id.type``).
SIDE_FILE_TYPES = {
    FileKind.CALENDAR: "calendar",
    FileKind.GARMIN_SUMMARY: ExportSource.GARMIN_SUMMARY.value,
    FileKind.STRAVA_CSV: ExportSource.STRAVA_CSV.value,
}
#: File types of FIT plan files (``file_id.type``), stored by the writer.
PLAN_FILE_TYPES = ("workout", "schedules")


@dataclass(frozen=True)
class SideJob:
    """One side file of a run: where it is, whose, its hash and kind, and how a person names it.

    ``fit_names`` (Strava CSVs) maps the names its rows may give (``activities/123.fit.gz``,
    relative to the CSV) to the paths in this run of the FIT files of the same export.
    """

    path: str
    athlete_id: str
    sha256: str
    kind: FileKind
    shown_as: str
    fit_names: Mapping[str, str] | None = None


def strava_names(csv_inner: str, fits: Mapping[str, str]) -> dict[str, str]:
    """The FIT files beside a CSV, by their name relative to its folder.

    ``csv_inner`` is where the CSV sits (inside an archive, or a path), ``fits`` maps the same kind
    of place of each FIT file (``activities/123.fit.gz``, before gunzipping) to its path now.
    """
    folder = PurePosixPath(csv_inner.replace("\\", "/")).parent
    out: dict[str, str] = {}
    for inner, path in fits.items():
        place = PurePosixPath(inner.replace("\\", "/"))
        if place.is_relative_to(folder):
            out[place.relative_to(folder).as_posix()] = path
    return out


def _read_summaries(
    kind: FileKind, data: bytes, settings: Settings | None, athlete: str
) -> SummaryFile:
    if kind is FileKind.GARMIN_SUMMARY:
        zone = settings.athlete(athlete).tz if settings is not None else None
        return read_garmin_summaries(data, zone=zone)
    return read_strava_activities_csv(data)


def _row(
    job: SideJob, size: int, status: FileStatus, code: str | None, message: str, now: datetime
) -> dict[str, object]:
    return {
        "athlete_id": job.athlete_id,
        "sha256": job.sha256,
        "status": status.value,
        "reason_code": code,
        "message": message,
        "original_name": Path(job.shown_as.rsplit("!", 1)[-1]).name,
        "size_bytes": size,
        "file_type": SIDE_FILE_TYPES[job.kind],
        "n_activities": 0,
        "parser_version": PARSER_VERSION,
        "first_seen_utc": now,
    }


def _summary(
    store: st.Store,
    job: SideJob,
    data: bytes,
    settings: Settings | None,
    sha_at: Mapping[str, str],
    now: datetime,
) -> tuple[FileStatus, str | None, str]:
    try:
        summaries = _read_summaries(job.kind, data, settings, job.athlete_id)
    except ExportFormatError as exc:
        return FileStatus.QUARANTINED, exc.reason_code, f"{exc} Drop the export's zip as it came."
    names = {n: sha_at[p] for n, p in (job.fit_names or {}).items() if p in sha_at}
    stored = store_summary_file(
        store,
        job.athlete_id,
        summaries,
        origin=job.shown_as,
        origin_sha256=job.sha256,
        file_sha256=names,
        now=now,
    )
    what = "Garmin Connect" if job.kind is FileKind.GARMIN_SUMMARY else "Strava"
    message = (
        f"{what} export summary: {stored.n_summaries} activit(ies) ({stored.n_new} new, "
        f"{stored.n_replaced} replaced); matched to stored activities at the next refresh"
    )
    notes = list(summaries.notes) + list(stored.notes)
    if notes:
        message += f"; notes: {'; '.join(notes[:3])}" + (" ..." if len(notes) > 3 else "")
    return FileStatus.STORED, None, message


def _calendar(
    store: st.Store, job: SideJob, data: bytes, settings: Settings | None, now: datetime
) -> tuple[FileStatus, str | None, str]:
    if settings is None:  # only a caller without a config (the demo) has none; never the inbox
        return (
            FileStatus.QUARANTINED,
            "calendar_needs_settings",
            "a calendar needs the athlete's time zone: import it with legday plan import",
        )
    try:
        result = plans.import_ics(store, settings, job.athlete_id, data, Path(job.path).name, now)
    except PlanFileError as exc:
        return FileStatus.QUARANTINED, "calendar_unreadable", str(exc)
    c = result.change
    return (
        FileStatus.STORED,
        None,
        f"calendar {c.feed!r}: {len(result.plans)} planned session(s) ({c.added} new, "
        f"{c.kept} again, {c.removed} removed); see legday plan list",
    )


def ingest_side_files(
    db_path: Path,
    jobs: Sequence[SideJob],
    *,
    settings: Settings | None,
    sha_at: Mapping[str, str],
    now: datetime,
    lock_timeout_s: float = 600.0,
    on_wait: st.WaitCallback | None = None,
) -> list[FileOutcome]:
    """Store the summaries and calendars of ``jobs`` (``sha_at``: path -> sha256 of the FIT files
    of this run), each file in its own transaction with its ``files`` row."""
    outcomes: list[FileOutcome] = []
    if not jobs:
        return outcomes
    with st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait) as store:
        for job in jobs:
            data, err = read_file(Path(job.path))
            if data is None:
                outcomes.append(
                    FileOutcome(
                        job.path,
                        job.athlete_id,
                        job.sha256,
                        FileStatus.QUARANTINED,
                        IngestReason.UNREADABLE,
                        err,
                    )
                )
                continue
            try:
                if job.kind is FileKind.CALENDAR:
                    status, code, message = _calendar(store, job, data, settings, now)
                else:
                    status, code, message = _summary(store, job, data, settings, sha_at, now)
                with store.transaction():
                    q.record_sightings(store, [(job.athlete_id, job.sha256, job.shown_as, now)])
                    q.insert_file_row(store, _row(job, len(data), status, code, message, now))
            except LegdayError as exc:  # the store refused it: keep the file, say so
                status, code, message = FileStatus.QUARANTINED, IngestReason.STORE_ERROR, str(exc)
            outcomes.append(
                FileOutcome(
                    job.path,
                    job.athlete_id,
                    job.sha256,
                    status,
                    code,
                    message,
                    file_type=SIDE_FILE_TYPES[job.kind],
                )
            )
    return outcomes


def rebuild_plans(
    db_path: Path,
    outcomes: Sequence[FileOutcome],
    settings: Settings | None,
    now: datetime,
    *,
    lock_timeout_s: float = 600.0,
    on_wait: st.WaitCallback | None = None,
) -> list[str]:
    """Rebuild the plans from FIT workout/schedule files of the athletes that got new ones;
    the notes of each rebuild (a workout without a date...)."""
    athletes = sorted(
        {
            o.athlete_id
            for o in outcomes
            if o.file_type in PLAN_FILE_TYPES
            and o.status in (FileStatus.STORED, FileStatus.PARTIAL)
        }
    )
    if not athletes or settings is None:
        return []
    notes: list[str] = []
    with st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait) as store:
        for athlete in athletes:
            notes += plans.rebuild_fit_plans(store, settings, athlete, now).notes
    return notes
