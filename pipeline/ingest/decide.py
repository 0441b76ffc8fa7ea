"""Decide what one parsed file becomes, against what the store holds: its ``files`` row, its
activity rows (with their ids), what it supersedes, and its outcome. Nothing is written here.

An activity's identity is its recording (device + FIT creation time), so a second copy with other
bytes is a duplicate, and a complete copy supersedes a partial one. ``decide`` is pure (it gets
the stored files with the same identity); ``decide_batch`` looks those up for a whole batch in one
query (no per-file round-trip). The writer (``writer.py``) commits what is decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipeline.fit import PARSER_VERSION, ParsedFile
from pipeline.ingest.outcomes import FileOutcome, FileStatus, IngestReason
from pipeline.store import db as st
from pipeline.store import ingest_sql as q


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


def hr_spans(hr: pl.DataFrame) -> pl.DataFrame:
    """One ``hr_spans`` row per activity of a samples frame: first and last sample time, count."""
    return hr.group_by("athlete_id", "activity_id", maintain_order=True).agg(
        pl.col("ts").min().alias("first_utc"),
        pl.col("ts").max().alias("last_utc"),
        pl.len().cast(pl.Int32).alias("samples"),
    )


def _stacked(frames: Sequence[pl.DataFrame], keys: Sequence[int]) -> pl.DataFrame:
    """Frames one under the other with the key of the file each row came from (``_file``).

    One concat and one column for the whole batch: per-file polars calls cost more than the rows.
    """
    out = pl.concat(frames, how="vertical_relaxed")
    heights = [f.height for f in frames]
    return out.with_columns(
        pl.Series("_file", np.repeat(np.asarray(keys, dtype=np.int32), heights))
    )


def batch_frames(batch: Sequence[Pending]) -> dict[str, pl.DataFrame]:
    """The rows of a batch of decided files, one frame per table (what the writer appends).

    Rows of sessions that got no activity id drop (as in a file alone); ids, athlete and file
    hash come from one join per table against the batch's (file, session) -> activity map.
    """
    with_ids = [(k, p) for k, p in enumerate(batch) if p.ids and p.parsed is not None]
    out: dict[str, pl.DataFrame] = {}
    if with_ids:
        keys = [k for k, _p in with_ids]
        sessions = pl.DataFrame(
            {
                "_file": [k for k, p in with_ids for _ in p.ids],
                "session_index": [i for _k, p in with_ids for i in p.ids],
                "activity_id": [a for _k, p in with_ids for a in p.ids.values()],
                "athlete_id": [p.outcome.athlete_id for _k, p in with_ids for _ in p.ids],
                "file_sha256": [p.outcome.sha256 for _k, p in with_ids for _ in p.ids],
                "utc_offset_s": [
                    p.parsed.info.utc_offset_s if p.parsed else None
                    for _k, p in with_ids
                    for _ in p.ids
                ],
                "time_plausible": [
                    i not in _implausible_sessions(p.parsed) if p.parsed else True
                    for _k, p in with_ids
                    for i in p.ids
                ],
            },
            schema_overrides={
                "_file": pl.Int32,
                "session_index": pl.Int32,
                "utc_offset_s": pl.Int32,
            },
        )
        ids = sessions.select("_file", "session_index", "activity_id", "athlete_id")

        def joined(attr: str, how: pl.DataFrame, *, keep_index: bool = False) -> pl.DataFrame:
            frames = [getattr(p.parsed, attr) for _k, p in with_ids]
            df = _stacked(frames, keys).join(
                how, on=["_file", "session_index"], how="inner", maintain_order="left"
            )
            return df.drop("_file") if keep_index else df.drop("_file", "session_index")

        out["activities"] = joined("sessions", sessions, keep_index=True)
        out["laps"] = joined("laps", ids)
        out["hr_samples"] = joined("hr", ids)
        out["hr_spans"] = hr_spans(out["hr_samples"])
        out["strength_sets"] = joined("sets", ids)
    steps = [(k, p) for k, p in enumerate(batch) if p.parsed is not None and p.parsed.steps.height]
    if steps:
        files = pl.DataFrame(
            {
                "_file": [k for k, _p in steps],
                "athlete_id": [p.outcome.athlete_id for _k, p in steps],
                "file_sha256": [p.outcome.sha256 for _k, p in steps],
            },
            schema_overrides={"_file": pl.Int32},
        )
        stacked = _stacked([p.parsed.steps for _k, p in steps if p.parsed], [k for k, _p in steps])
        out["workout_steps"] = stacked.join(
            files, on="_file", how="inner", maintain_order="left"
        ).drop("_file")
    return {name: df for name, df in out.items() if df.height}


@dataclass
class Pending:
    """One file decided but not yet written: its outcome, its rows, what it supersedes."""

    outcome: FileOutcome
    file_row: dict[str, Any] | None  # None: the bytes already have a row (a repeat), only seen
    sighting: tuple[str, str, str, datetime]
    ids: dict[int, str]  # session index -> activity id (rows are built per batch: batch_frames)
    supersede: list[str]
    identity: tuple[str, str] | None
    size: int
    parsed: ParsedFile | None  # None: no rows to write (a duplicate, quarantined, a repeat)


#: A stored or partial file of the same recording: (sha256, status, original_name).
SameFile = tuple[str, str, str]


@dataclass(frozen=True)
class ToDecide:
    """A parsed file waiting for its batch's decision."""

    path: str
    athlete_id: str
    sha256: str
    size: int
    parsed: ParsedFile
    seen_as: str | None = None


def same_recordings(
    store: st.Store, items: Sequence[ToDecide]
) -> dict[tuple[str, str], list[SameFile]]:
    """(athlete, identity) -> its files in the store, for a batch: one query per athlete."""
    by_athlete: dict[str, set[str]] = {}
    for it in items:
        ident = fit_identity(it.parsed)
        if ident is not None and it.parsed.status != "quarantined":
            by_athlete.setdefault(it.athlete_id, set()).add(ident)
    found: dict[tuple[str, str], list[SameFile]] = {}
    for athlete, idents in by_athlete.items():
        for ident, rows in q.files_with_identities(store, athlete, sorted(idents)).items():
            found[(athlete, ident)] = rows
    return found


def decide_one(
    it: ToDecide, same: Mapping[tuple[str, str], list[SameFile]], *, now: datetime
) -> Pending:
    """Decide one parsed file against the recordings its batch's lookup found (``same``)."""
    ident = fit_identity(it.parsed)
    return decide(
        athlete_id=it.athlete_id,
        path=it.path,
        sha256=it.sha256,
        size=it.size,
        parsed=it.parsed,
        now=now,
        seen_as=it.seen_as,
        same=same.get((it.athlete_id, ident), []) if ident else [],
    )


def decide_batch(
    store: st.Store,
    items: Sequence[ToDecide],
    *,
    now: datetime,
    known: Mapping[tuple[str, str], list[SameFile]] | None = None,
) -> list[Pending]:
    """Decide a batch of files with distinct identities against the store (one lookup query).

    ``known`` replaces the lookup (the benchmark's raw append decides against an empty store).
    """
    same = same_recordings(store, items) if known is None else known
    out = [decide_one(it, same, now=now) for it in items]
    return out


def decide(
    *,
    athlete_id: str,
    path: str,
    sha256: str,
    size: int,
    parsed: ParsedFile,
    now: datetime,
    seen_as: str | None = None,
    same: Sequence[SameFile] = (),
) -> Pending:
    """What becomes of one parsed file, given the stored files of the same recording (``same``,
    oldest first; see ``same_recordings``). Pure: no I/O.

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
    pending = Pending(
        FileOutcome(
            path,
            athlete_id,
            sha256,
            FileStatus(parsed.status),
            row["reason_code"],
            row["message"],
            file_type=info.file_type,
        ),
        row,
        (athlete_id, sha256, seen_as or path, now),
        {},
        [],
        (athlete_id, identity) if identity else None,
        size,
        None,  # set below only when the file's rows are written
    )
    if parsed.status == "quarantined":
        return pending
    if identity is not None:
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
                    status=FileStatus.DUPLICATE.value,
                    reason_code=IngestReason.SAME_ACTIVITY.value,
                    duplicate_of=first[0],
                    message=same_text[0].upper() + same_text[1:] + ".",
                )
            pending.outcome = FileOutcome(
                path,
                athlete_id,
                sha256,
                FileStatus(row["status"]),
                row["reason_code"],
                row["message"],
                duplicate_of=first[0],
                file_type=info.file_type,
            )
            return pending
        pending.supersede = [old_sha for old_sha, _status, _name in same]  # partial copies
    key = identity or f"sha256:{sha256}"
    ids = {int(i): activity_id(athlete_id, key, int(i)) for i in parsed.sessions["session_index"]}
    row["n_activities"] = len(ids)
    pending.ids, pending.parsed = ids, parsed
    pending.outcome = FileOutcome(
        path,
        athlete_id,
        sha256,
        FileStatus(parsed.status),
        row["reason_code"],
        row["message"] or _stored_message(parsed, len(ids)),
        activities=len(ids),
        activity_ids=tuple(ids.values()),
        file_type=info.file_type,
    )
    return pending


def crash_row(
    path: str, athlete: str, sha: str, err: str | None, now: datetime, seen_as: str | None
) -> Pending:
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
        "status": FileStatus.QUARANTINED.value,
        "reason_code": IngestReason.PARSER_CRASH.value,
        "message": message,
        "original_name": Path(path).name,
        "size_bytes": size,
        "n_activities": 0,
        "parser_version": PARSER_VERSION,
        "first_seen_utc": now,
    }
    outcome = FileOutcome(
        path, athlete, sha, FileStatus.QUARANTINED, IngestReason.PARSER_CRASH, message
    )
    return Pending(outcome, row, (athlete, sha, seen_as or path, now), {}, [], None, size, None)


def _implausible_sessions(parsed: ParsedFile) -> set[int]:
    """Sessions whose clock the parser found implausible: kept, but put on no day."""
    return {p.session_index for p in parsed.session_problems if p.code == "implausible_timestamp"}


def _stored_message(parsed: ParsedFile, n: int) -> str:
    plan = parsed.plan
    if plan is not None and plan.workout is not None:
        title = plan.workout.get("wkt_name") or "untitled"
        return (
            f"stored: a workout plan '{title}' ({plan.workout.get('sport') or 'sport unknown'}, "
            f"{len(plan.workout_steps)} steps); a schedule entry gives it a date"
        )
    if plan is not None:
        return f"stored: a training schedule with {len(plan.schedules)} entries"
    if n == 0:
        return f"stored: a {parsed.info.file_type or 'non-activity'} file with no sessions"
    sports = ", ".join(str(s) for s in parsed.sessions["sport"].to_list())
    return f"stored {n} session(s): {sports}"
