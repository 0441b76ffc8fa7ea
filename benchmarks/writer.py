"""The single writer alone: the history parsed once and held, then stored, beside DuckDB's raw
append of the same frames (issue 15).

``python -m benchmarks.writer`` (or ``python -m benchmarks.run --writer-only``) parses the files
once (cached as a pickle beside the history, keyed by the files and the parser version), then
times only ``write_results`` on a freshly migrated store, and DuckDB appending the same rows (the
frames the writer decides, concatenated per table, one insert each, then a checkpoint) into
another fresh store. ``--profile`` adds a cProfile of the writer and a per-phase breakdown (the
cumulative time of the writer's own steps). I/O: reads the files, writes scratch stores.
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import pickle
import pstats
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ATHLETE = "me"
NOW = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)

#: The writer's steps for the per-phase breakdown: label -> (module path suffix, function).
PHASES: dict[str, tuple[str, str]] = {
    "open store (lock, connect, migrate check)": ("pipeline/store/db.py", "open_store"),
    "decide, per file (before; after: pure, no lookup)": ("pipeline/ingest/decide.py", "decide"),
    "  identity lookup per file (before)": ("pipeline/store/ingest_sql.py", "files_with_identity"),
    "decide, per batch": ("pipeline/ingest/writer.py", "decide_all"),
    "  identity lookup per batch": ("pipeline/store/ingest_sql.py", "files_with_identities"),
    "  per-file frames: ids joined per file (before)": ("pipeline/ingest/decide.py", "_with_ids"),
    "flush (one transaction per batch)": ("pipeline/ingest/writer.py", "_flush"),
    "  rows of the batch, one concat + join per table": (
        "pipeline/ingest/decide.py",
        "batch_frames",
    ),
    "  files rows, one insert per file (before)": (
        "pipeline/store/ingest_sql.py",
        "insert_file_row",
    ),
    "  files rows, one insert per batch": ("pipeline/store/ingest_sql.py", "insert_file_rows"),
    "  sightings": ("pipeline/store/ingest_sql.py", "record_sightings"),
    "  concat per table": ("polars/functions/eager.py", "concat"),
    "  insert_frame (arrow + INSERT)": ("pipeline/store/db.py", "insert_frame"),
    "  to_arrow": ("polars/dataframe/frame.py", "to_arrow"),
    "  commit": ("pipeline/store/db.py", "transaction"),
    "close (checkpoint)": ("pipeline/store/db.py", "close"),
}

Held = list[tuple[str, str, Any]]  # (path, athlete, ParseResult)


@dataclass
class WriterFigures:
    files: int
    rows: int
    writer_s: float
    raw_append_s: float
    rows_by_table: dict[str, int]
    phases: dict[str, float] = field(default_factory=dict)
    profile_text: str = ""

    @property
    def files_per_s(self) -> float:
        return self.files / self.writer_s

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.writer_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows": self.rows,
            "writer_s": self.writer_s,
            "files_per_s": self.files_per_s,
            "rows_per_s": self.rows_per_s,
            "raw_append_s": self.raw_append_s,
            "raw_rows_per_s": self.rows / self.raw_append_s if self.raw_append_s else 0.0,
            "writer_vs_raw": self.writer_s / self.raw_append_s if self.raw_append_s else 0.0,
            "rows_by_table": self.rows_by_table,
            "phases": self.phases,
        }


def _key(files: Sequence[Path]) -> str:
    from pipeline.fit import PARSER_VERSION

    h = hashlib.sha256(PARSER_VERSION.encode())
    for f in files:
        st = f.stat()
        h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def parse_held(
    files: Sequence[Path], *, workers: int, cache: Path | None, log: Callable[[str], None]
) -> tuple[Held, float]:
    """Parse every file once with the library's pool and hold the results (cached on disk).

    Returns the results in input order and the parse wall time (0 when read from the cache).
    """
    from pipeline.ingest.plan import ParseJob
    from pipeline.ingest.workers import iter_parsed

    pkl = cache / f"parsed-{_key(files)}.pkl" if cache is not None else None
    if pkl is not None and pkl.is_file():
        with pkl.open("rb") as fh:
            held: Held = pickle.load(fh)
        return held, 0.0
    log(f"parsing {len(files)} files once ({workers} processes) ...")
    jobs = []
    for f in files:
        data = f.read_bytes()
        jobs.append(ParseJob(str(f), ATHLETE, hashlib.sha256(data).hexdigest(), data))
    t = time.perf_counter()
    held = [(job.path, ATHLETE, result) for job, result in iter_parsed(jobs, NOW, workers)]
    seconds = time.perf_counter() - t
    if pkl is not None:
        pkl.parent.mkdir(parents=True, exist_ok=True)
        tmp = pkl.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(held, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.rename(pkl)
    return held, seconds


def parse_rate(files: Sequence[Path]) -> float:
    """Files per second that legday's parser decodes on one core (in this process), as a parser
    worker does it (``in_worker.parse_bytes``: fitparse's fast mode)."""
    from pipeline.ingest.in_worker import parse_bytes

    data = [f.read_bytes() for f in files]
    t = time.perf_counter()
    for d in data:
        parse_bytes(d, NOW)
    return len(data) / (time.perf_counter() - t)


def _fresh(db: Path) -> None:
    from pipeline.store import db as st

    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir(parents=True)
    with st.open_store(db) as s:
        s.migrate(NOW)


def _phases(prof: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for label, (suffix, func) in PHASES.items():
        out[label] = sum(
            v[3]
            for (fname, _line, name), v in raw.items()
            if fname.endswith(suffix) and name == func
        )
    return out


def measure(
    held: Held, work: Path, *, profile: bool = False, batch_files: int | None = None
) -> WriterFigures:
    """Store the held results with the writer, then append the same frames raw; both timed."""
    from pipeline.ingest.writer import write_results
    from pipeline.store import db as st
    from pipeline.store import ingest_sql as q

    writer_db = work / "writer" / "legday.duckdb"
    _fresh(writer_db)
    outcomes: list[Any] = []
    kw: dict[str, Any] = {} if batch_files is None else {"batch_files": batch_files}
    prof = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if prof is not None:
        prof.enable()
    write_results(writer_db, iter(held), now=NOW, on_done=outcomes.append, **kw)
    if prof is not None:
        prof.disable()
    writer_s = time.perf_counter() - t
    with st.open_store(writer_db, read_only=True) as s:
        rows_by_table = q.row_counts(s)
    # The same rows, appended raw: what the writer stored, read back (not timed), then one
    # insert per table and a checkpoint into a fresh store.
    with st.open_store(writer_db, read_only=True) as s:
        frames = q.table_frames(s)
    raw_db = work / "raw" / "legday.duckdb"
    _fresh(raw_db)
    t = time.perf_counter()
    with st.open_store(raw_db) as s:
        with s.transaction():
            for name, df in frames.items():
                s.insert_frame(name, df)
        q.checkpoint(s)
    raw_s = time.perf_counter() - t
    figures = WriterFigures(
        files=len(held),
        rows=sum(rows_by_table.values()),
        writer_s=writer_s,
        raw_append_s=raw_s,
        rows_by_table=rows_by_table,
    )
    if prof is not None:
        figures.phases = _phases(prof)
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        figures.profile_text = buf.getvalue()
    return figures


def table(f: WriterFigures, parse_files_per_s: float | None = None) -> str:
    lines = [
        f"writer only: {f.files} files, {f.rows:,} rows in {f.writer_s:.2f} s: "
        f"{f.files_per_s:.0f} files/s, {f.rows_per_s / 1e6:.2f} M rows/s",
        f"DuckDB raw append of the same frames (+ checkpoint): {f.raw_append_s:.2f} s "
        f"({f.rows / f.raw_append_s / 1e6:.2f} M rows/s); writer/raw {f.writer_s / f.raw_append_s:.1f}x",
        "rows: " + ", ".join(f"{k} {v:,}" for k, v in f.rows_by_table.items()),
    ]
    if parse_files_per_s:
        lines.append(
            f"one core parses {parse_files_per_s:.1f} files/s: the writer keeps up with "
            f"{f.files_per_s / parse_files_per_s:.1f} parser cores"
        )
    for label, secs in f.phases.items():
        if secs:
            lines.append(f"  {label:<52} {secs:7.2f} s  {100 * secs / f.writer_s:5.1f} %")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import sys

    from benchmarks import history as hist
    from pipeline.ingest import collect_files

    parser = argparse.ArgumentParser(description="the single writer alone (issue 15)")
    parser.add_argument("--quick", action="store_true", help="a week of history")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile", action="store_true", help="cProfile + per-phase breakdown")
    parser.add_argument("--batch-files", type=int, default=None)
    parser.add_argument("--out", type=Path, default=hist.ROOT / "out" / "bench" / "writer")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    from benchmarks.run import _corpus_files

    h = hist.ensure_history(weeks=1 if args.quick else 3 * 52, workers=args.workers, log=log)
    files, _ = collect_files([*_corpus_files(args.quick), h.files])
    held, parse_s = parse_held(files, workers=args.workers, cache=h.root, log=log)
    if parse_s:
        log(f"parsed in {parse_s:.1f} s")
    figures = measure(held, args.out, profile=args.profile, batch_files=args.batch_files)
    print(table(figures))
    if args.profile:
        print(figures.profile_text)
    shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
