"""What became of each file: the status and reason codes an ingest gives, and the summary of a run.

Pure data, no I/O. The enums are ``StrEnum`` so that the strings stored in ``files.status`` and
``files.reason_code`` (and read by the report, the CLI and the flows) stay exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class FileStatus(StrEnum):
    """Where a file ended; every file ends in exactly one of these."""

    STORED = "stored"  # decoded whole; its activities (if any) are in the store
    PARTIAL = "partial"  # damaged, what could be decoded is stored, the reason says what was lost
    DUPLICATE = "duplicate"  # the same bytes or the same recording is already stored
    QUARANTINED = "quarantined"  # nothing stored; the reason says why and what to do


#: Outcomes that keep the file (an inbox files them in the archive; the rest go to quarantine).
KEPT = (FileStatus.STORED, FileStatus.PARTIAL, FileStatus.DUPLICATE)


class IngestReason(StrEnum):
    """Reason codes given by ingest itself (the parser and the archive reader add their own:
    ``pipeline.fit`` for damaged or foreign files, ``pipeline.ingest.archives`` for zips)."""

    SAME_BYTES = "same_bytes"  # byte-identical to a file already ingested (or earlier this run)
    SAME_ACTIVITY = "same_activity"  # other bytes, same recording (device + creation time)
    UNREADABLE = "unreadable"  # the file could not be read (permissions, gone)
    PARSER_CRASH = "parser_crash"  # the parser process died or hung on this file
    STORE_ERROR = "store_error"  # decoded, but the store refused its rows


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    path: str
    athlete_id: str
    sha256: str | None
    status: FileStatus
    reason_code: str | None = None  # an ``IngestReason`` or a parser/archive code
    message: str | None = None
    activities: int = 0
    duplicate_of: str | None = None
    already_known: bool = False  # the same bytes were ingested before (or earlier in this run)
    activity_ids: tuple[str, ...] = ()
    #: For a FIT file unpacked from a zip: the archive it came from (``path`` is then the
    #: extracted copy in the run's unpack folder, which is removed after the run).
    member_of: str | None = None
    #: What the file was, as ``files.file_type`` says: ``activity``, ``workout``, ``schedules``
    #: (FIT plan files), ``calendar``, ``garmin_summary``, ``strava_csv``, ``zip_archive``...
    #: None when it was never read as any of them (unreadable, a duplicate of known bytes).
    file_type: str | None = None

    @property
    def name(self) -> str:
        """The name a person knows the file by: ``a.fit``, or ``export.zip!a.fit`` for a member."""
        if self.member_of is not None:
            return f"{Path(self.member_of).name}!{Path(self.path).name}"
        return Path(self.path).name


ProgressCallback = Callable[[FileOutcome], None]


@dataclass
class IngestSummary:
    """The outcomes of one ingest run (in the order they were committed) and its duration."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    #: Files under the given folders that are not taken (not ``.fit``/``.zip``, see ``collect``).
    skipped: list[Path] = field(default_factory=list)
    #: What rebuilding the plans of FIT workout/schedule files said (a workout with no date...).
    plan_notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in FileStatus}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            if o.status in (FileStatus.QUARANTINED, FileStatus.PARTIAL) and o.reason_code:
                out[o.reason_code] = out.get(o.reason_code, 0) + 1
        return out

    @property
    def needs_refresh(self) -> bool:
        """True when new activities may have been stored, so derived tables must be refreshed."""
        c = self.counts()
        return bool(c[FileStatus.STORED] or c[FileStatus.PARTIAL])


def same_bytes(
    path: str, athlete: str, sha: str, first_name: str, status: str | None
) -> FileOutcome:
    """The outcome of bytes already ingested: by an earlier run (``status`` known) or this one."""
    if status is None:
        what = f"Identical to {first_name}, taken earlier in this run"
    else:
        what = f"Identical to {first_name}, already ingested ({status})"
    return FileOutcome(
        path,
        athlete,
        sha,
        FileStatus.DUPLICATE,
        IngestReason.SAME_BYTES,
        f"{what}; nothing new was added.",
        already_known=True,
    )
