"""Ingest: FIT files in, rows in the store out, and an outcome for every file.

The steps, and why they are in this order:
1. hash every file (sha256 of its bytes) and ask the store which hashes it already has, so a
   re-run over known files costs a hash and one query, never a parse;
2. parse the new ones, in worker processes when ``workers > 1`` (fitparse is pure Python and
   GIL-bound: threads would not help);
3. write each parsed file in its own transaction, in short writer sessions so that readers get
   the store between them; a second copy of an activity (same FIT identity, other bytes) is
   recorded as a duplicate, and a complete copy supersedes a partial one.

Every file ends as ``stored``, ``partial``, ``duplicate`` or ``quarantined``, with a reason code
and a message. One bad file never stops the others. The caller passes ``now``.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import re
import secrets
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import StorageError, StoreUnavailable
from pipeline.fit.parsing import PARSER_VERSION, parse_file, read_file
from pipeline.fit.schemas import ParsedFile
from pipeline.ingest.archives import (
    ArchiveLimits,
    ArchiveProblem,
    ArchiveResult,
    expand_archive,
    is_archive,
)
from pipeline.store import db as st

ProgressCallback = Callable[["FileOutcome"], None]

#: Extensions taken when walking a folder; a file named explicitly is always taken.
FIT_SUFFIXES = (".fit", ".zip")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    path: str
    athlete_id: str
    sha256: str | None
    status: str  # stored | partial | duplicate | quarantined
    reason_code: str | None = None
    message: str | None = None
    activities: int = 0
    duplicate_of: str | None = None
    already_known: bool = False  # the same bytes were ingested before (or earlier in this run)
    activity_ids: tuple[str, ...] = ()
    #: For a FIT file unpacked from a zip: the archive it came from (``path`` is then the
    #: extracted copy in the run's unpack folder, which is removed after the run).
    member_of: str | None = None

    @property
    def name(self) -> str:
        """The name a person knows the file by: ``a.fit``, or ``export.zip!a.fit`` for a member."""
        if self.member_of is not None:
            return f"{Path(self.member_of).name}!{Path(self.path).name}"
        return Path(self.path).name


@dataclass
class IngestSummary:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {"stored": 0, "partial": 0, "duplicate": 0, "quarantined": 0}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            if o.status in ("quarantined", "partial") and o.reason_code:
                out[o.reason_code] = out.get(o.reason_code, 0) + 1
        return out


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Files to ingest from files and folders (recursive, sorted); plus what was skipped.

    In folders only ``*.fit`` files and ``*.zip`` archives (Garmin exports) are taken (any case);
    hidden files and symlinks that leave the folder are skipped. A file named explicitly is taken whatever its name, so that a
    mistake gets a clear quarantine reason instead of silence.
    """
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


def fit_identity(parsed: ParsedFile) -> str | None:
    """What makes two files the same recording: device and creation time (FIT file_id)."""
    info = parsed.info
    if info.time_created is None or not parsed.is_activity:
        return None
    return "|".join(
        [
            str(info.manufacturer or ""),
            str(info.product or ""),
            str(info.serial_number or ""),
            info.time_created.isoformat(),
        ]
    )


def activity_id(athlete_id: str, identity: str, session_index: int) -> str:
    return hashlib.sha256(f"{athlete_id}|{identity}|{session_index}".encode()).hexdigest()[:20]


def _with_ids(
    df: pl.DataFrame, athlete_id: str, ids: dict[int, str], *, keep_index: bool = False
) -> pl.DataFrame:
    """Attach athlete and activity ids to a per-session frame (rows of unknown sessions drop)."""
    out = df.filter(pl.col("session_index").is_in(list(ids))).with_columns(
        pl.col("session_index")
        .replace_strict(list(ids), list(ids.values()), return_dtype=pl.String)
        .alias("activity_id"),
        pl.lit(athlete_id).alias("athlete_id"),
    )
    return out if keep_index else out.drop("session_index")


def hr_spans(hr: pl.DataFrame) -> pl.DataFrame:
    """One ``hr_spans`` row per activity of a samples frame: first and last sample time, count."""
    return hr.group_by("athlete_id", "activity_id", maintain_order=True).agg(
        pl.col("ts").min().alias("first_utc"),
        pl.col("ts").max().alias("last_utc"),
        pl.len().cast(pl.Int32).alias("samples"),
    )


@dataclass
class _Pending:
    """One file decided but not yet written: its outcome, its rows, what it supersedes."""

    outcome: FileOutcome
    file_row: dict[str, Any] | None  # None: the bytes already have a row (a repeat), only seen
    sighting: tuple[str, str, str, datetime]
    frames: dict[str, pl.DataFrame]
    supersede: list[str]
    identity: tuple[str, str] | None
    size: int
    parsed: ParsedFile | None


def _decide(
    store: st.Store,
    *,
    athlete_id: str,
    path: str,
    sha256: str,
    size: int,
    parsed: ParsedFile,
    now: datetime,
    seen_as: str | None = None,
) -> _Pending:
    """What becomes of one parsed file, decided against what the store holds (no writes).

    ``seen_as`` is where the file was seen, for ``file_sightings`` (default: ``path``).
    """
    identity = fit_identity(parsed)
    info = parsed.info
    name = Path(path).name
    row: dict[str, Any] = {
        "athlete_id": athlete_id,
        "sha256": sha256,
        "status": parsed.status,
        "reason_code": parsed.reason.code if parsed.reason else None,
        "message": parsed.reason.message if parsed.reason else None,
        "warnings": [{"code": w.code, "message": w.message} for w in parsed.warnings],
        "original_name": name,
        "size_bytes": size,
        "file_type": info.file_type,
        "manufacturer": info.manufacturer,
        "product": info.product,
        "serial_number": info.serial_number,
        "time_created": info.time_created,
        "utc_offset_s": info.utc_offset_s,
        "fit_identity": identity,
        "duplicate_of": None,
        "n_messages": parsed.n_messages,
        "n_activities": 0,
        "parser_version": PARSER_VERSION,
        "first_seen_utc": now,
    }
    pending = _Pending(
        FileOutcome(path, athlete_id, sha256, parsed.status, row["reason_code"], row["message"]),
        row,
        (athlete_id, sha256, seen_as or path, now),
        {},
        [],
        (athlete_id, identity) if identity else None,
        size,
        parsed,
    )
    if parsed.status == "quarantined":
        return pending
    if identity is not None:
        same = st.files_with_identity(store, athlete_id, identity)
        complete = [s for s in same if s[1] == "stored"]
        if complete or (same and parsed.status == "partial"):
            first = (complete or same)[0]
            same_text = (
                f"the same recording (device {info.manufacturer or '?'} {info.product or ''} "
                f"serial {info.serial_number or '?'}, created {info.time_created}) is already "
                f"stored from {first[2]}, so nothing was added"
            )
            # A damaged copy keeps its own outcome (partial, with its reason) so the damage
            # is not hidden; an intact copy is a plain duplicate.
            if parsed.status == "partial":
                row.update(duplicate_of=first[0], message=f"{row['message']} Also, {same_text}.")
            else:
                row.update(
                    status="duplicate",
                    reason_code="same_activity",
                    duplicate_of=first[0],
                    message=same_text[0].upper() + same_text[1:] + ".",
                )
            pending.outcome = FileOutcome(
                path,
                athlete_id,
                sha256,
                row["status"],
                row["reason_code"],
                row["message"],
                duplicate_of=first[0],
            )
            return pending
        pending.supersede = [old_sha for old_sha, _status, _name in same]  # partial copies
    key = identity or f"sha256:{sha256}"
    ids = {int(i): activity_id(athlete_id, key, int(i)) for i in parsed.sessions["session_index"]}
    row["n_activities"] = len(ids)
    if ids:
        pending.frames["activities"] = _with_ids(
            parsed.sessions, athlete_id, ids, keep_index=True
        ).with_columns(
            pl.lit(sha256).alias("file_sha256"),
            pl.lit(info.utc_offset_s, pl.Int32).alias("utc_offset_s"),
            ~pl.col("session_index")
            .is_in(list(_implausible_sessions(parsed)))
            .alias("time_plausible"),
        )
        pending.frames["laps"] = _with_ids(parsed.laps, athlete_id, ids)
        hr = _with_ids(parsed.hr, athlete_id, ids)
        pending.frames["hr_samples"] = hr
        pending.frames["hr_spans"] = hr_spans(hr)
        pending.frames["strength_sets"] = _with_ids(parsed.sets, athlete_id, ids)
    if parsed.steps.height:
        pending.frames["workout_steps"] = parsed.steps.with_columns(
            pl.lit(athlete_id).alias("athlete_id"), pl.lit(sha256).alias("file_sha256")
        )
    pending.outcome = FileOutcome(
        path,
        athlete_id,
        sha256,
        parsed.status,
        row["reason_code"],
        row["message"] or _stored_message(parsed, len(ids)),
        activities=len(ids),
        activity_ids=tuple(ids.values()),
    )
    return pending


def _crash_row(
    path: str, athlete: str, sha: str, err: str | None, now: datetime, seen_as: str | None
) -> _Pending:
    """A quarantined ``files`` row for a file the parser died or hung on (nothing decoded)."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    message = (
        f"{err or 'the parser failed on this file'}; nothing was stored. Keep the file and "
        "report it: the other files went on"
    )
    row: dict[str, Any] = {
        "athlete_id": athlete,
        "sha256": sha,
        "status": "quarantined",
        "reason_code": "parser_crash",
        "message": message,
        "original_name": Path(path).name,
        "size_bytes": size,
        "n_activities": 0,
        "parser_version": PARSER_VERSION,
        "first_seen_utc": now,
    }
    outcome = FileOutcome(path, athlete, sha, "quarantined", "parser_crash", message)
    return _Pending(outcome, row, (athlete, sha, seen_as or path, now), {}, [], None, size, None)


_TABLES = ("activities", "laps", "hr_samples", "hr_spans", "strength_sets", "workout_steps")


def _flush(store: st.Store, batch: Sequence[_Pending]) -> None:
    """Write decided files in one transaction: one bulk insert per table for the whole batch.

    A batch holds whole files only, so each file is still all-or-nothing.
    """
    with store.transaction():
        for p in batch:
            if p.file_row is None:
                continue
            for old_sha in p.supersede:
                st.supersede_file(
                    store,
                    p.file_row["athlete_id"],
                    old_sha,
                    p.file_row["sha256"],
                    p.file_row["original_name"],
                )
            st.insert_file_row(store, p.file_row)
        st.record_sightings(store, [p.sighting for p in batch])
        for table in _TABLES:
            frames = [p.frames[table] for p in batch if table in p.frames]
            if frames:
                store.insert_frame(table, pl.concat(frames, how="vertical_relaxed"))


def _implausible_sessions(parsed: ParsedFile) -> set[int]:
    """Sessions whose clock the parser found implausible (its warning names ``session_index=i``)."""
    out = set()
    for w in parsed.warnings:
        if w.code == "implausible_timestamp":
            m = re.search(r"session_index=(\d+)", w.message)
            if m:
                out.add(int(m.group(1)))
    return out


def _stored_message(parsed: ParsedFile, n: int) -> str:
    if n == 0:
        return f"stored: a {parsed.info.file_type or 'non-activity'} file with no sessions"
    sports = ", ".join(str(s) for s in parsed.sessions["sport"].to_list())
    return f"stored {n} session(s): {sports}"


ParseResult = tuple[str | None, int, ParsedFile | None, str | None]


def parse_timeout_s(size: int) -> float:
    """Time one file may take to parse before its worker is stopped (fitparse decodes ~1 MB/4 s)."""
    return 60.0 + 30.0 * size / 1_000_000


def _crashed(path: str, why: str) -> ParseResult:
    return None, 0, None, why


def _pool(workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    # Not fork: the parent may hold DuckDB and Prefect threads, which fork does not copy safely.
    if "forkserver" not in methods:
        return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    ctx = get_context("forkserver")
    # The fork server loads only the parser, not the caller's main module (the CLI, a flow):
    # parser processes fork from it and share those pages instead of each importing more.
    ctx.set_forkserver_preload(["pipeline.fit.parsing"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once, killing workers that hang (shutdown alone would wait for them)."""
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _isolated(path: str, now: datetime) -> ParseResult:
    """Parse one file alone in a fresh process, so a crash or hang is pinned on that file."""
    pool = _pool(1)
    try:
        size = Path(path).stat().st_size if Path(path).exists() else 0
        return pool.submit(parse_file, path, now).result(timeout=parse_timeout_s(size))
    except FuturesTimeout:
        return _crashed(path, f"the parser did not finish within {parse_timeout_s(size):.0f} s")
    except Exception as exc:  # BrokenProcessPool: the interpreter died on this file
        return _crashed(path, f"the parser process died on this file ({type(exc).__name__})")
    finally:
        _stop(pool)


#: Files queued per parser process. Enough that the parsers keep busy while the writer commits a
#: batch (~0.5 s, several small files' worth); few enough that memory stays bounded.
IN_FLIGHT_PER_WORKER = 8


def iter_parsed(
    jobs: Sequence[str], now: datetime, workers: int
) -> Iterator[tuple[str, ParseResult]]:
    """Parse files, yielding results in input order whatever order the workers finish in.

    Input order makes the outcome deterministic (which of two copies of an activity is stored
    and which is the duplicate) however the work is split. At most ``IN_FLIGHT_PER_WORKER``
    jobs per worker are in flight, which bounds memory by the largest files rather than by the
    history. A file that hangs or kills its worker is retried alone and then given up with a
    reason; the others go on.
    """
    if workers <= 1 or len(jobs) <= 1:
        for path in jobs:
            yield path, parse_file(path, now)
        return
    pool = _pool(workers)
    try:
        in_flight: deque[tuple[str, Future[Any]]] = deque()
        queue = iter(jobs)

        def submit(path: str) -> None:
            in_flight.append((path, pool.submit(parse_file, path, now)))

        for path in queue:
            submit(path)
            if len(in_flight) >= IN_FLIGHT_PER_WORKER * workers:
                break
        while in_flight:
            path, fut = in_flight.popleft()
            try:
                size = Path(path).stat().st_size if Path(path).exists() else 0
                result = fut.result(timeout=parse_timeout_s(size))
            except Exception:  # hang or dead worker: the pool is unusable, find the culprit
                _stop(pool)
                pending = [path] + [p for p, _f in in_flight]
                in_flight.clear()
                pool = _pool(workers)
                for p in pending:
                    yield p, _isolated(p, now)
                for nxt in islice(queue, IN_FLIGHT_PER_WORKER * workers):
                    submit(nxt)
                continue
            yield path, result
            for nxt in islice(queue, 1):
                submit(nxt)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Plan:
    """What an ingest has to parse, and the outcomes decided without parsing."""

    to_parse: list[tuple[str, str]]  # (path, athlete_id), in input order
    decided: list[FileOutcome]
    sha_of: dict[str, str] = field(default_factory=dict)  # path -> sha256 of what is to parse


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
        "duplicate",
        "same_bytes",
        f"{what}; nothing new was added.",
        already_known=True,
    )


#: (athlete, sha256) -> path of the first file with those bytes in this run.
InRun = dict[tuple[str, str], str]


def plan_ingest(
    db_path: Path,
    items: Sequence[tuple[Path, str]],
    *,
    now: datetime,
    on_wait: st.WaitCallback | None = None,
    lock_timeout_s: float = 600.0,
    in_run: InRun | None = None,
    seen_as: Mapping[str, str] | None = None,
) -> Plan:
    """Hash the files and sort out those the store already has (recorded as sightings).

    ``in_run`` holds the bytes already taken by this run (by an earlier plan of it: the loose
    files, when planning the members of zips); it is updated, and a repeat is a duplicate.
    ``seen_as`` maps a path to where it was seen, for ``file_sightings`` (a zip member).
    """
    seen_as = seen_as or {}
    decided: list[FileOutcome] = []
    hashed: list[tuple[str, str, str]] = []  # path, athlete, sha
    for path, athlete in items:
        data, err = read_file(Path(path))
        if data is None:
            decided.append(FileOutcome(str(path), athlete, None, "quarantined", "unreadable", err))
            continue
        hashed.append((str(path), athlete, hashlib.sha256(data).hexdigest()))
        del data
    to_parse: list[tuple[str, str]] = []
    sha_of: dict[str, str] = {}
    with st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait) as store:
        store.migrate(now)
        by_athlete: dict[str, list[str]] = {}
        for _p, a, sha in hashed:
            by_athlete.setdefault(a, []).append(sha)
        known = {a: st.known_files(store, a, shas) for a, shas in by_athlete.items()}
        seen_now: InRun = in_run if in_run is not None else {}
        sightings = []
        for spath, athlete, sha in hashed:
            if sha in known[athlete] or (athlete, sha) in seen_now:
                sightings.append((athlete, sha, seen_as.get(spath, spath), now))
                if sha in known[athlete]:
                    status, name = known[athlete][sha]
                    decided.append(same_bytes(spath, athlete, sha, name, status))
                else:
                    first = seen_now[(athlete, sha)]
                    name = seen_as.get(first, Path(first).name).rsplit("/", 1)[-1]
                    decided.append(same_bytes(spath, athlete, sha, name, None))
                continue
            seen_now[(athlete, sha)] = spath
            to_parse.append((spath, athlete))
            sha_of[spath] = sha
        with store.transaction():
            st.record_sightings(store, sightings)
    return Plan(to_parse, decided, sha_of)


#: Files written per transaction by the single writer (each file stays all-or-nothing).
WRITE_BATCH_FILES = 32


def _raise_if_disk_full(exc: BaseException) -> None:
    """A full disk stops the whole run (nothing more can be stored); other errors do not."""
    if st.is_storage_full(exc):
        raise StoreUnavailable(
            f"the disk holding the store is full ({exc}); free space and run again: "
            "nothing was lost and the inbox is untouched"
        ) from exc


def _store_error(path: str, athlete: str, sha: str | None, exc: BaseException) -> FileOutcome:
    _raise_if_disk_full(exc)
    return FileOutcome(
        path,
        athlete,
        sha,
        "quarantined",
        "store_error",
        f"The file decoded but could not be stored ({exc}); please report this.",
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
    ``on_done`` is called only after a file's outcome is committed. The connection is closed
    at least every ``batch_seconds`` so that waiting readers get the file.

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
    pending: list[_Pending] = []
    identities: set[tuple[str, str]] = set()
    taken: InRun = {}  # bytes decided in this call -> path of their first file
    pending_shas: set[tuple[str, str]] = set()

    def repeat(path: str, athlete: str, sha: str, first: str, status: str | None) -> _Pending:
        outcome = same_bytes(path, athlete, sha, first, status)
        sighting = (athlete, sha, seen_as.get(path, path), now)
        return _Pending(outcome, None, sighting, {}, [], None, 0, None)

    def known_now(p: _Pending) -> _Pending | None:
        """The same bytes committed meanwhile (another process): a duplicate, not an error."""
        if store_obj is None or p.outcome.sha256 is None or p.file_row is None:
            return None
        athlete, sha = p.outcome.athlete_id, p.outcome.sha256
        hit = st.known_files(store_obj, athlete, [sha]).get(sha)
        if hit is None:
            return None
        return repeat(p.outcome.path, athlete, sha, hit[1], hit[0])

    def flush() -> None:
        if not pending or store_obj is None:
            return
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
                    done.append(
                        _store_error(p.outcome.path, p.outcome.athlete_id, p.outcome.sha256, one)
                    )
        pending.clear()
        identities.clear()
        pending_shas.clear()
        for outcome in done:
            on_done(outcome)

    try:
        for path, athlete, (sha, size, parsed, err) in results:
            if store_obj is None:
                store_ctx = st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait)
                store_obj = store_ctx.__enter__()
                opened_at = time.monotonic()
            if parsed is None or sha is None:
                code = "unreadable" if err and err.startswith("cannot read") else "parser_crash"
                known_sha = sha or sha_of.get(path)
                if code != "parser_crash" or known_sha is None or (athlete, known_sha) in taken:
                    on_done(FileOutcome(path, athlete, sha, "quarantined", code, err))
                    continue
                pending.append(_crash_row(path, athlete, known_sha, err, now, seen_as.get(path)))
                taken[(athlete, known_sha)] = path
                pending_shas.add((athlete, known_sha))
                continue
            if (athlete, sha) in pending_shas:
                flush()  # the first copy's outcome is committed before the repeat is decided
            if (athlete, sha) in taken:
                first = taken[(athlete, sha)]
                first_name = seen_as.get(first, Path(first).name).rsplit("/", 1)[-1]
                pending.append(repeat(path, athlete, sha, first_name, None))
                continue
            identity = fit_identity(parsed)
            if identity is not None and (athlete, identity) in identities:
                flush()  # decide a second copy against the first one's committed rows
            try:
                decided = _decide(
                    store_obj,
                    athlete_id=athlete,
                    path=path,
                    sha256=sha,
                    size=size,
                    parsed=parsed,
                    now=now,
                    seen_as=seen_as.get(path),
                )
            except StorageError:
                raise
            except Exception as exc:  # a store error for one file must not lose the others
                on_done(_store_error(path, athlete, sha, exc))
                continue
            pending.append(decided)
            taken[(athlete, sha)] = path
            pending_shas.add((athlete, sha))
            if decided.identity is not None:
                identities.add(decided.identity)
            if len(pending) >= batch_files:
                flush()
            if time.monotonic() - opened_at > batch_seconds:
                flush()
                store_ctx.__exit__(None, None, None)
                store_obj, store_ctx = None, None
        flush()
    finally:
        if store_ctx is not None:
            store_ctx.__exit__(None, None, None)


def ingest_files(
    db_path: Path,
    items: Sequence[tuple[Path, str]],
    *,
    now: datetime,
    workers: int = 1,
    progress: ProgressCallback | None = None,
    on_wait: st.WaitCallback | None = None,
    batch_seconds: float = 2.0,
    lock_timeout_s: float = 600.0,
    unpack_dir: Path | None = None,
    archive_limits: ArchiveLimits | None = None,
) -> IngestSummary:
    """Ingest ``(path, athlete_id)`` pairs into the store at ``db_path``.

    ``workers`` processes parse in parallel; the calling process is the single writer. With
    ``unpack_dir`` (a folder of this run, see ``unpack_workspace``), zip archives (Garmin
    exports, nested zips too) are unpacked there, within ``archive_limits`` (a zip bomb is
    refused), and their FIT files ingested; their outcomes carry ``member_of``. The same bytes
    twice in one run (a file and a zip holding it) are ingested once, the repeat is a duplicate.
    """
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
    to_parse = plan.to_parse
    sha_of = dict(plan.sha_of)
    unpacked: list[_Unpacked] = []
    seen_as: dict[str, str] = {}
    if unpack_dir is not None:
        archives = [(p, a) for p, a in to_parse if is_archive(Path(p))]
        if archives:
            to_parse = [x for x in to_parse if x not in archives]
            try:
                unpacked = [_unpack(Path(p), a, unpack_dir, archive_limits) for p, a in archives]
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
            to_parse = to_parse + sub.to_parse
            sha_of.update(sub.sha_of)
    athlete_of = dict(to_parse)
    parsed = (
        (path, athlete_of[path], result)
        for path, result in iter_parsed([p for p, _a in to_parse], now, workers)
    )
    write_results(
        db_path,
        parsed,
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
                done(_record_archive(store, u, now))
    summary.seconds = time.monotonic() - started
    return summary


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
class _Unpacked:
    path: Path
    athlete_id: str
    sha256: str
    size: int
    result: ArchiveResult


def _unpack(
    path: Path, athlete_id: str, unpack_dir: Path, limits: ArchiveLimits | None
) -> _Unpacked:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    result = expand_archive(path, unpack_dir / sha[:16], limits=limits or ArchiveLimits())
    return _Unpacked(path, athlete_id, sha, path.stat().st_size, result)


def _listing(problems: Sequence[ArchiveProblem], most: int = 3) -> str:
    shown = "; ".join(f"{p.member} ({p.reason_code}: {p.message})" for p in problems[:most])
    return shown + (f"; and {len(problems) - most} more" if len(problems) > most else "")


def _record_archive(store: st.Store, u: _Unpacked, now: datetime) -> FileOutcome:
    """A ``files`` row for the archive itself, so that the same archive is not unpacked twice.

    An archive some of whose FIT members could not be taken (encrypted, symlinks, unreadable)
    is ``partial``: it is stored, and its message names what was lost. A member taken under a
    safe name is noted, not counted as lost.
    """
    n = len(u.result.extracted)
    lost = [p for p in u.result.problems if p.lost]
    renamed = [p for p in u.result.problems if not p.lost]
    status: str
    code: str | None
    if u.result.refused:
        first = u.result.problems[0] if u.result.problems else None
        status, code = "quarantined", first.reason_code if first else "zip_corrupt"
        message = first.message if first else "the archive could not be read"
    else:
        status, code = ("partial", lost[0].reason_code) if lost else ("stored", None)
        message = f"archive: {n} FIT file(s) unpacked and ingested (each has its own row)"
        if lost:
            message += f"; {len(lost)} member(s) not taken: {_listing(lost)}"
        if renamed:
            message += f"; {len(renamed)} member(s) renamed to stay inside: {_listing(renamed)}"
    known = st.known_files(store, u.athlete_id, [u.sha256]).get(u.sha256)
    if known is not None:  # another run recorded the same archive meanwhile
        with store.transaction():
            st.record_sightings(store, [(u.athlete_id, u.sha256, str(u.path), now)])
        return same_bytes(str(u.path), u.athlete_id, u.sha256, known[1], known[0])
    with store.transaction():
        st.record_sightings(store, [(u.athlete_id, u.sha256, str(u.path), now)])
        st.insert_file_row(
            store,
            {
                "athlete_id": u.athlete_id,
                "sha256": u.sha256,
                "status": status,
                "reason_code": code,
                "message": message,
                "original_name": u.path.name,
                "size_bytes": u.size,
                "file_type": "zip_archive",
                "n_activities": 0,
                "parser_version": PARSER_VERSION,
                "first_seen_utc": now,
            },
        )
    return FileOutcome(str(u.path), u.athlete_id, u.sha256, status, code, message)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
