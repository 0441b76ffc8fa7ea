"""The single writer: commit decided files in short writer sessions, all-or-nothing per file.

DuckDB allows one writing process, so parsing happens elsewhere (``workers.py``) and this process
writes. Up to ``WRITE_BATCH_FILES`` whole files go into one transaction with one bulk insert per
table; if a batch fails, its files are written again one per transaction, so one bad file never
sinks the others. What costs per file was moved to the batch (docs/performance.md, "The single
writer"): the batch is decided with one identity lookup, its rows are built with one concat and
one join per table, its ``files`` rows go in one insert. I/O: opens and writes the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import StorageError, StoreUnavailable
from pipeline.ingest.decide import (
    Pending,
    ToDecide,
    batch_frames,
    crash_row,
    decide_one,
    fit_identity,
    same_recordings,
)
from pipeline.ingest.outcomes import FileOutcome, FileStatus, IngestReason, same_bytes
from pipeline.ingest.plan import InRun
from pipeline.ingest.workers import ParseResult
from pipeline.store import db as st
from pipeline.store import ingest_sql as q
from pipeline.store import plans_sql

_TABLES = ("activities", "laps", "hr_samples", "hr_spans", "strength_sets", "workout_steps")


def _flush(store: st.Store, batch: Sequence[Pending]) -> None:
    """Write decided files in one transaction: one bulk insert per table for the whole batch.

    A batch holds whole files only, so each file is still all-or-nothing.
    """
    frames = batch_frames(batch)  # pure: built before the transaction opens
    with store.transaction():
        for p in batch:
            if p.file_row is None:
                continue
            for old_sha in p.supersede:
                q.supersede_file(
                    store,
                    p.file_row["athlete_id"],
                    old_sha,
                    p.file_row["sha256"],
                    p.file_row["original_name"],
                )
        q.insert_file_rows(store, [p.file_row for p in batch if p.file_row is not None])
        for p in batch:  # FIT workout and schedule files: their messages, for the plans
            if p.file_row is not None and p.parsed is not None and p.parsed.plan is not None:
                row = p.file_row
                plans_sql.save_plan_file(
                    store,
                    row["athlete_id"],
                    row["sha256"],
                    row["original_name"],
                    p.parsed.plan,
                    row["first_seen_utc"],
                )
        q.record_sightings(store, [p.sighting for p in batch])
        for table in _TABLES:
            if table in frames:
                store.insert_frame(table, frames[table])


#: Files written per transaction by the single writer (each file stays all-or-nothing). Writer
#: alone on the 3-year history: 32 -> 5.1 s, 64 -> 2.7 s, 128 -> 2.3 s; 64 keeps most of the gain
#: with half the rows held at once (peak PSS 450 MB at 64 against 510 MB at 128, make bench).
WRITE_BATCH_FILES = 64


def _raise_if_disk_full(exc: BaseException) -> None:
    """A full disk stops the whole run (nothing more can be stored); other errors do not."""
    if st.is_storage_full(exc):
        raise StoreUnavailable(
            f"the disk holding the store is full ({exc}); free space and run again: "
            "nothing was lost and the inbox is untouched"
        ) from exc


def _store_error(
    path: str, athlete: str, sha: str | None, exc: BaseException, file_type: str | None = None
) -> FileOutcome:
    _raise_if_disk_full(exc)
    return FileOutcome(
        path,
        athlete,
        sha,
        FileStatus.QUARANTINED,
        IngestReason.STORE_ERROR,
        f"The file decoded but could not be stored ({exc}); please report this.",
        file_type=file_type,
    )


def write_results(
    db_path: Path,
    results: Iterable[tuple[str, str, ParseResult]],
    *,
    now: datetime,
    on_done: Callable[[FileOutcome], None],
    on_wait: st.WaitCallback | None = None,
    batch_seconds: float = 2.0,
    lock_timeout_s: float = 600.0,
    batch_files: int = WRITE_BATCH_FILES,
    seen_as: Mapping[str, str] | None = None,
    sha_of: Mapping[str, str] | None = None,
) -> None:
    """The single writer: store parsed files in short writer sessions.

    Up to ``batch_files`` whole files go into one transaction with one bulk insert per table
    (per-file transactions made the writer the bottleneck of a backfill). If a batch fails, its
    files are written again one per transaction, so one bad file never sinks the others.
    ``on_done`` is called only after a file's outcome is committed. The store is opened when a
    batch is ready and closed at least every ``batch_seconds`` so that waiting readers get in.
    Parsed files are decided when their batch is written (``decide.same_recordings``: one query);
    a second copy of a recording or of the same bytes ends the batch first, so it is decided
    against the first copy's committed rows.

    Bytes met twice (in this run, or stored by another process since they were planned) are a
    ``same_bytes`` duplicate with a sighting, never a second ``files`` row. A file the parser
    died or hung on gets a ``quarantined`` row (``parser_crash``) when its hash is known from
    the plan (``sha_of``), so that `files`, `legday status` and the report show it too.
    """
    seen_as = seen_as or {}
    sha_of = sha_of or {}
    store_ctx: Any = None
    store_obj: st.Store | None = None
    opened_at = 0.0
    batch: list[Pending | ToDecide] = []  # arrival order; parsed files are decided at flush
    identities: set[tuple[str, str]] = set()
    taken: InRun = {}  # bytes decided in this call -> path of their first file
    pending_shas: set[tuple[str, str]] = set()

    def repeat(path: str, athlete: str, sha: str, first: str, status: str | None) -> Pending:
        outcome = same_bytes(path, athlete, sha, first, status)
        sighting = (athlete, sha, seen_as.get(path, path), now)
        return Pending(outcome, None, sighting, {}, [], None, 0, None)

    def known_now(p: Pending) -> Pending | None:
        """The same bytes committed meanwhile (another process): a duplicate, not an error."""
        if store_obj is None or p.outcome.sha256 is None or p.file_row is None:
            return None
        athlete, sha = p.outcome.athlete_id, p.outcome.sha256
        hit = q.known_files(store_obj, athlete, [sha]).get(sha)
        if hit is None:
            return None
        return repeat(p.outcome.path, athlete, sha, hit[1], hit[0])

    def close() -> None:
        nonlocal store_obj, store_ctx
        if store_ctx is not None:
            store_ctx.__exit__(None, None, None)
        store_obj, store_ctx = None, None

    def decide_all(store: st.Store) -> tuple[list[Pending], list[FileOutcome]]:
        """Decide the batch's parsed files with one identity lookup (their identities differ)."""
        todo = [b for b in batch if isinstance(b, ToDecide)]
        same = same_recordings(store, todo) if todo else {}
        decided: list[Pending] = []
        failed: list[FileOutcome] = []
        for b in batch:
            if isinstance(b, Pending):
                decided.append(b)
                continue
            try:
                decided.append(decide_one(b, same, now=now))
            except Exception as exc:  # one file's failure must not lose the others
                _raise_if_disk_full(exc)
                taken.pop((b.athlete_id, b.sha256), None)  # not stored: a repeat is no duplicate
                failed.append(
                    _store_error(b.path, b.athlete_id, b.sha256, exc, b.parsed.info.file_type)
                )
        return decided, failed

    def flush() -> None:
        nonlocal store_obj, store_ctx, opened_at
        if not batch:
            return
        if store_obj is None:
            store_ctx = st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait)
            store_obj = store_ctx.__enter__()
            opened_at = time.monotonic()
        pending, failed = decide_all(store_obj)
        try:
            _flush(store_obj, pending)
            done = [p.outcome for p in pending]
        except StorageError:
            raise
        except Exception as exc:
            _raise_if_disk_full(exc)
            done = []
            for p in pending:
                try:
                    _flush(store_obj, [p])
                    done.append(p.outcome)
                except StorageError:
                    raise
                except Exception as one:
                    again = known_now(p)
                    if again is not None:
                        _flush(store_obj, [again])
                        done.append(again.outcome)
                        continue
                    if p.outcome.sha256 is not None:  # not stored: a repeat is not its duplicate
                        taken.pop((p.outcome.athlete_id, p.outcome.sha256), None)
                    o = p.outcome
                    done.append(_store_error(o.path, o.athlete_id, o.sha256, one, o.file_type))
        batch.clear()
        identities.clear()
        pending_shas.clear()
        for outcome in failed + done:
            on_done(outcome)
        if time.monotonic() - opened_at > batch_seconds:
            close()  # let waiting readers in

    try:
        for path, athlete, (sha, size, parsed, err) in results:
            if store_obj is not None and time.monotonic() - opened_at > batch_seconds:
                flush()
                close()
            if parsed is None or sha is None:
                code = (
                    IngestReason.UNREADABLE
                    if err and err.startswith("cannot read")
                    else IngestReason.PARSER_CRASH
                )
                known_sha = sha or sha_of.get(path)
                if (
                    code != IngestReason.PARSER_CRASH
                    or known_sha is None
                    or (athlete, known_sha) in taken
                ):
                    on_done(FileOutcome(path, athlete, sha, FileStatus.QUARANTINED, code, err))
                    continue
                batch.append(crash_row(path, athlete, known_sha, err, now, seen_as.get(path)))
                taken[(athlete, known_sha)] = path
                pending_shas.add((athlete, known_sha))
                continue
            if (athlete, sha) in pending_shas:
                flush()  # the first copy's outcome is committed before the repeat is decided
            if (athlete, sha) in taken:
                first = taken[(athlete, sha)]
                first_name = seen_as.get(first, Path(first).name).rsplit("/", 1)[-1]
                batch.append(repeat(path, athlete, sha, first_name, None))
                continue
            identity = fit_identity(parsed)
            if identity is not None and (athlete, identity) in identities:
                flush()  # decide a second copy against the first one's committed rows
            batch.append(ToDecide(path, athlete, sha, size, parsed, seen_as.get(path)))
            taken[(athlete, sha)] = path
            pending_shas.add((athlete, sha))
            if identity is not None:
                identities.add((athlete, identity))
            if len(batch) >= batch_files:
                flush()
        flush()
    finally:
        close()
