"""Store the summaries of one export file (Garmin ``*_summarizedActivities.json``, Strava
``activities.csv``) in the ``activity_summaries`` relation (migration 0007).

Called by ingest, in the writer process, with a store it holds open and a ``SummaryFile`` the
readers (``pipeline.exports.garmin``/``strava``) made of the file's bytes. The same summary
arriving again (same source and ``source_id``) replaces its row; when what matching and
classification read of it is unchanged, its match is kept, otherwise the match is cleared and the
next refresh matches it again (``pipeline.derive.summary_hints``) and re-classifies the
activities it left or joined. Nothing here matches or classifies: a summary may arrive before
its FIT file, and refresh sees both orders the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import polars as pl

from pipeline.exports.types import ActivitySummary, SummaryFile
from pipeline.store import summaries_sql as sq
from pipeline.store.db import Store

__all__ = ["StoredSummaries", "store_summary_file"]


@dataclass(frozen=True)
class StoredSummaries:
    """What storing one summary file did.

    ``n_new``: keys not stored before; ``n_replaced``: keys already stored (rewritten), of which
    ``n_unchanged`` said the same as before (their match kept). ``notes``: the file's own notes
    (top-level shape, skipped entries) and what this step noticed (a key twice in one file).
    """

    n_summaries: int
    n_new: int
    n_replaced: int
    notes: tuple[str, ...]
    n_unchanged: int = 0


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def content_sha256(summary: ActivitySummary, file_sha256: str | None) -> str:
    """A digest of what matching and classification read of a summary (not its notes)."""
    doc = {
        "title": summary.title,
        "activity_type": summary.activity_type,
        "sport_type": summary.sport_type,
        "start_utc": _iso(summary.start_utc),
        "start_local": _iso(summary.start_local),
        "duration_s": summary.duration_s,
        "exercises": [asdict(e) for e in summary.exercises],
        "file_name": summary.file_name,
        "file_sha256": file_sha256,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _row(
    athlete_id: str,
    s: ActivitySummary,
    *,
    file_sha: str | None,
    digest: str,
    origin: str,
    origin_sha256: str,
    now: datetime,
    match: Mapping[str, Any] | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "athlete_id": athlete_id,
        "source": s.source.value,
        "source_id": s.source_id,
        "title": s.title,
        "activity_type": s.activity_type,
        "sport_type": s.sport_type,
        "start_utc": s.start_utc,
        "start_local": s.start_local,
        "duration_s": s.duration_s,
        "exercises": [asdict(e) for e in s.exercises],
        "file_name": s.file_name,
        "file_sha256": file_sha,
        "origin": origin,
        "origin_sha256": origin_sha256,
        "unexpected": list(s.unexpected),
        "content_sha256": digest,
        "imported_utc": now,
    }
    for col in sq.MATCH_COLUMNS:
        row[col] = match.get(col) if match is not None else None
    return row


def store_summary_file(
    store: Store,
    athlete_id: str,
    summary_file: SummaryFile,
    *,
    origin: str,
    origin_sha256: str,
    file_sha256: Mapping[str, str],
    now: datetime,
) -> StoredSummaries:
    """Store every summary of ``summary_file`` for ``athlete_id``, in one transaction.

    ``origin``: the file as a person knows it (``export.zip!DI_CONNECT/.../x.json``);
    ``origin_sha256``: the digest of its bytes; ``file_sha256``: Strava ``Filename`` values as
    written in the CSV -> sha256 of the FIT bytes stored from each (``{}`` for Garmin).
    """
    notes = list(summary_file.notes)
    latest: dict[tuple[str, str], ActivitySummary] = {}
    for s in summary_file.summaries:
        key = (s.source.value, s.source_id)
        if key in latest:
            notes.append(f"{s.source.value} {s.source_id} appears twice; the later entry is kept")
        latest[key] = s
    rows: list[dict[str, Any]] = []
    n_new = n_unchanged = 0
    with store.transaction():
        stored: dict[tuple[str, str], dict[str, Any]] = {}
        for source in sorted({k[0] for k in latest}):
            for r in sq.stored_keys(store, athlete_id, source).iter_rows(named=True):
                stored[(source, str(r["source_id"]))] = r
        for key, s in latest.items():
            file_sha = file_sha256.get(s.file_name) if s.file_name else None
            digest = content_sha256(s, file_sha)
            old = stored.get(key)
            n_new += old is None
            same = old is not None and old["content_sha256"] == digest
            n_unchanged += same
            rows.append(
                _row(
                    athlete_id,
                    s,
                    file_sha=file_sha,
                    digest=digest,
                    origin=origin,
                    origin_sha256=origin_sha256,
                    now=now,
                    match=old if same else None,
                )
            )
        sq.replace_summaries(store, pl.DataFrame(rows, schema=sq.ROW_SCHEMA))
    return StoredSummaries(
        n_summaries=len(rows),
        n_new=n_new,
        n_replaced=len(rows) - n_new,
        notes=tuple(notes),
        n_unchanged=n_unchanged,
    )
