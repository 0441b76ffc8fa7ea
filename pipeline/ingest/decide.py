"""Decide what one parsed file becomes, against what the store holds: its ``files`` row, its
activity rows (with their ids), what it supersedes, and its outcome. Nothing is written here.

An activity's identity is its recording (device + FIT creation time), so a second copy with other
bytes is a duplicate, and a complete copy supersedes a partial one. I/O: reads the store (the
files with the same identity); the writer (``writer.py``) commits what is decided.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
class Pending:
    """One file decided but not yet written: its outcome, its rows, what it supersedes."""

    outcome: FileOutcome
    file_row: dict[str, Any] | None  # None: the bytes already have a row (a repeat), only seen
    sighting: tuple[str, str, str, datetime]
    frames: dict[str, pl.DataFrame]
    supersede: list[str]
    identity: tuple[str, str] | None
    size: int
    parsed: ParsedFile | None


def decide(
    store: st.Store,
    *,
    athlete_id: str,
    path: str,
    sha256: str,
    size: int,
    parsed: ParsedFile,
    now: datetime,
    seen_as: str | None = None,
) -> Pending:
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
    pending = Pending(
        FileOutcome(
            path,
            athlete_id,
            sha256,
            FileStatus(parsed.status),
            row["reason_code"],
            row["message"],
        ),
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
        same = q.files_with_identity(store, athlete_id, identity)
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
        FileStatus(parsed.status),
        row["reason_code"],
        row["message"] or _stored_message(parsed, len(ids)),
        activities=len(ids),
        activity_ids=tuple(ids.values()),
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
    if n == 0:
        return f"stored: a {parsed.info.file_type or 'non-activity'} file with no sessions"
    sports = ", ".join(str(s) for s in parsed.sessions["sport"].to_list())
    return f"stored {n} session(s): {sports}"
