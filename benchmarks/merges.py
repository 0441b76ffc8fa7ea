"""How much a nightly write's checkpoint costs, night after night, on a copy of a store.

DuckDB checkpoints when the writer closes; now and then that checkpoint merges the trailing,
partly filled row groups of ``hr_samples``. This replays ``--nights`` nightly-sized appends
(``--rows`` heart-rate rows each, copied from the store itself) on a copy of ``--db`` and prints
what each close took, so the size and the cadence of those merges can be seen on any store:

    .venv/bin/python -m benchmarks.merges --db out/bench/run/multi/legday.duckdb

The store passed in is not touched.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.store import db as st


def replay(db: Path, nights: int, rows: int) -> list[float]:
    """Seconds each writer close took after appending ``rows`` samples, one entry per night."""
    out = []
    for _ in range(nights):
        with st.open_store(db) as s:
            s.con.execute(f"INSERT INTO hr_samples SELECT * FROM hr_samples LIMIT {int(rows)}")
            t = time.perf_counter()
            s.con.execute("CHECKPOINT")
            out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("out/bench/run/multi/legday.duckdb"))
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--rows", type=int, default=14_000, help="HR rows a night adds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "legday.duckdb"
        shutil.copyfile(args.db, copy)
        times = replay(copy, args.nights, args.rows)
    print(" ".join(f"{t:.3f}" for t in times))
    slow = [t for t in times if t > 0.08]
    print(
        f"{args.nights} nights of {args.rows} rows: median {statistics.median(times):.3f} s, "
        f"mean {statistics.mean(times):.3f} s, {len(slow)} over 0.08 s "
        f"(max {max(times):.3f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
