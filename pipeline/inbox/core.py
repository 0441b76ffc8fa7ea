"""The watched inbox: which files are in it, when one is ready, and where it goes afterwards.

Everything here is plain functions and classes, so the watcher (``pipeline.inbox.watcher``), the
Prefect flows and the tests share one behaviour:

- ``scan_inbox`` lists the files to take, each with its athlete (``inbox/<athlete>/...`` or the
  default athlete at the top level), and what it skipped and why (temporary download names,
  symlinks, unknown subfolders);
- ``ReadinessTracker`` decides when a file may be handed on: a FIT file declares its own length,
  so it must be complete *and* unchanged (size and mtime) for ``settle_s``; a file that can never
  be complete (not FIT, trailing bytes, cut short) is handed on once it has stopped changing for
  ``stalled_s``, so that it gets an outcome instead of waiting forever. It takes ``now`` as an
  argument; ``ready_by_age`` is the one-shot version of the same rule for sweeps;
- ``ingest_and_file`` ingests ready files and only *then*, after the store has committed their
  outcome, moves them: ingested files to ``<data_dir>/archive/YYYY/MM/`` (month of the activity
  start in the athlete's zone, else of arrival), quarantined ones to ``<data_dir>/quarantine/``
  with a ``<name>.reason.txt`` beside them. A crash between commit and move leaves a file whose
  bytes the store knows: the next run records it as a duplicate and archives it. Nothing is
  overwritten and nothing is deleted that was not copied first.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.errors import LegdayError
from pipeline.fit.parsing import fit_declared_length, fit_is_complete
from pipeline.ingest.core import FileOutcome, IngestSummary, ingest_files, unpack_workspace
from pipeline.store import db as st

#: Names of files still being downloaded or written by an editor; taken once renamed.
TEMPORARY_SUFFIXES = (".part", ".crdownload", ".tmp", ".partial", ".download", ".swp")
#: Outcomes that send a file to the archive (everything else goes to quarantine).
ARCHIVED = ("stored", "partial", "duplicate")


def is_temporary_name(name: str) -> bool:
    """True for dotfiles, ``~`` backups and partial-download names (``.part``, ``.crdownload``...)."""
    lowered = name.lower()
    return name.startswith(".") or name.endswith("~") or lowered.endswith(TEMPORARY_SUFFIXES)


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


# -- readiness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What a look at a file found: size, mtime and how complete its FIT content is.

    ``state`` is ``complete`` (whole FIT chunks, nothing after), ``incomplete`` (a FIT header
    declares more bytes than there are), ``trailing`` (bytes after the declared end),
    ``not_fit`` (no FIT header), ``empty`` (zero bytes) or ``short`` (too few bytes to tell).
    """

    size: int
    mtime_ns: int
    state: str

    @property
    def signature(self) -> tuple[int, int]:
        return self.size, self.mtime_ns


def probe_file(path: Path, previous: Probe | None = None) -> Probe | None:
    """Look at a file; None when it is gone. Reads the bytes only when size or mtime changed."""
    try:
        st_ = path.stat()
    except OSError:
        return None
    if previous is not None and previous.signature == (st_.st_size, st_.st_mtime_ns):
        return previous
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if not head:
                # Zero bytes can never become a valid file once settled: no stalled wait.
                return Probe(st_.st_size, st_.st_mtime_ns, "empty")
            if len(head) < 12:
                return Probe(st_.st_size, st_.st_mtime_ns, "short")
            if head.startswith(b"PK\x03\x04"):
                # A zip's central directory is written last: it exists only in a complete copy.
                state = "complete" if zipfile.is_zipfile(path) else "incomplete"
                return Probe(st_.st_size, st_.st_mtime_ns, state)
            declared = fit_declared_length(head)
            if declared is None:
                return Probe(st_.st_size, st_.st_mtime_ns, "not_fit")
            if st_.st_size < declared:
                return Probe(st_.st_size, st_.st_mtime_ns, "incomplete")
            data = head + fh.read()
    except OSError:
        # Unreadable: it will be handed on once stalled and get an "unreadable" outcome.
        return Probe(st_.st_size, st_.st_mtime_ns, "short")
    state = "complete" if fit_is_complete(data) else "trailing"
    return Probe(len(data), st_.st_mtime_ns, state)


def wait_needed(state: str, settle_s: float, stalled_s: float) -> float:
    """Seconds a file in ``state`` must stay unchanged before it is handed on."""
    return settle_s if state in ("complete", "not_fit", "empty") else max(settle_s, stalled_s)


def ready_by_age(probe: Probe, age_s: float, *, settle_s: float, stalled_s: float) -> bool:
    """One-shot readiness (sweeps): the file's mtime is old enough for its state."""
    return age_s >= wait_needed(probe.state, settle_s, stalled_s)


@dataclass
class _Entry:
    probe: Probe
    since: float
    handed_at: float | None = None


@dataclass
class ReadinessTracker:
    """Decides when files may be handed on; the caller passes ``now`` (monotonic seconds).

    A file is due once its signature (size, mtime) has not changed for ``wait_needed`` seconds.
    It is handed on once; if it is still there unchanged ``retry_s`` later (the handler failed,
    or a Prefect run never came), it is handed on again.
    """

    settle_s: float = 2.0
    stalled_s: float = 120.0
    retry_s: float = 300.0
    _entries: dict[Path, _Entry] = field(default_factory=dict)

    def observe(self, path: Path, probe: Probe | None, now: float) -> None:
        if probe is None:
            self._entries.pop(path, None)
            return
        entry = self._entries.get(path)
        if entry is None or entry.probe.signature != probe.signature:
            self._entries[path] = _Entry(probe, now)
        else:
            entry.probe = probe

    def forget(self, path: Path) -> None:
        self._entries.pop(path, None)

    def probe(self, path: Path) -> Probe | None:
        entry = self._entries.get(path)
        return entry.probe if entry else None

    def tracked(self) -> list[Path]:
        return sorted(self._entries)

    def _due_at(self, entry: _Entry) -> float:
        if entry.handed_at is not None:
            return entry.handed_at + self.retry_s
        return entry.since + wait_needed(entry.probe.state, self.settle_s, self.stalled_s)

    def due(self, now: float) -> list[tuple[Path, Probe]]:
        """Files to hand on now (marked as handed); sorted by path."""
        out = []
        for path in sorted(self._entries):
            entry = self._entries[path]
            if now >= self._due_at(entry):
                entry.handed_at = now
                out.append((path, entry.probe))
        return out

    def seconds_to_next(self, now: float) -> float | None:
        """How long until some file may be due (None when nothing is tracked)."""
        if not self._entries:
            return None
        return max(0.0, min(self._due_at(e) for e in self._entries.values()) - now)


def sweep_inbox(
    inbox: Path,
    settings: Settings,
    *,
    now: datetime,
    settle_s: float = 2.0,
    stalled_s: float = 120.0,
) -> tuple[list[InboxFile], list[Skipped]]:
    """Files of the inbox that are ready now, judged by mtime age (nightly, triggered runs)."""
    taken, skipped = scan_inbox(
        inbox, settings, exclude=[archive_dir(settings), quarantine_dir(settings)]
    )
    ready = []
    for f in taken:
        probe = probe_file(f.path)
        if probe is None:
            continue
        age = now.timestamp() - probe.mtime_ns / 1e9
        if ready_by_age(probe, age, settle_s=settle_s, stalled_s=stalled_s):
            ready.append(f)
    return ready, skipped


# -- filing away ----------------------------------------------------------------------------


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
        value = store.scalar(
            "SELECT min(start_utc) FROM activities WHERE athlete_id = ? "
            "AND file_sha256 IN (SELECT unnest(?::VARCHAR[]))",
            [o.athlete_id, shas],
        )
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
        summary = ingest_files(
            settings.db_path,
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
        st.record_sightings(store, rows)
