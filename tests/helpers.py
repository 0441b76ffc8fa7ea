"""Small helpers shared by tests: a clock, ingesting into a scratch store, table snapshots."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.ingest import IngestSummary, ingest_files
from pipeline.store.db import open_store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

CORE_TABLES = ("activities", "laps", "hr_samples", "strength_sets", "workout_steps")


def ingest(db: Path, paths: list[Path], athlete: str = "me", workers: int = 1) -> IngestSummary:
    return ingest_files(db, [(p, athlete) for p in paths], now=NOW, workers=workers)


def snapshot(db: Path, tables: tuple[str, ...] = (*CORE_TABLES, "files")) -> dict[str, str]:
    """A digest of every row of each table (order-independent), to compare stores."""
    out: dict[str, str] = {}
    with open_store(db, read_only=True) as s:
        for t in tables:
            rows = s.rows(f"SELECT * FROM {t}")
            digest = hashlib.sha256()
            for r in sorted(repr(row) for row in rows):
                digest.update(r.encode())
            out[t] = f"{len(rows)}:{digest.hexdigest()[:16]}"
    return out


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with open_store(db, read_only=True) as s:
        return s.rows(sql, params)
