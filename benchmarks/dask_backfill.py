"""The Dask backfill measured: ``flows.backfill`` (Prefect's Dask task runner, a local cluster)
over the benchmark's input, with the single writer's own time split out (issue 15).

``python -m benchmarks.dask_backfill --n-workers 2`` runs the flow against a temporary Prefect
server (``prefect_test_harness``, PREFECT_HOME in a temporary folder) on a fresh store and prints
the wall time of the flow, of its ingest, and how long the writer worked versus waited for the
cluster's results. The writer is timed by wrapping the iterator ``ingest_paths`` hands it (the
library itself is not changed). I/O: a scratch store under ``out/bench/dask``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the Dask backfill, timed")
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a week of history")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "dask")
    args = parser.parse_args(argv)

    from benchmarks import history as hist
    from benchmarks.run import CONFIG, _corpus_files

    h = hist.ensure_history(weeks=1 if args.quick else 3 * 52, workers=2)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    inbox = args.out / "inbox"  # one folder: the corpus and the history, as the full bench
    inbox.mkdir()
    for p in [*_corpus_files(args.quick), *sorted(h.files.iterdir())]:
        try:
            os.link(p, inbox / p.name)
        except OSError:
            shutil.copyfile(p, inbox / p.name)
    db = args.out / "legday.duckdb"

    import pipeline.ingest.run as ingest_run

    real = ingest_run.write_results
    timing: dict[str, float] = {"waited": 0.0, "writer_wall": 0.0}

    def timed_writer(db_path: Path, results: Iterable[Any], **kw: Any) -> None:
        def waiting() -> Iterator[Any]:
            it = iter(results)
            while True:
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    timing["waited"] += time.perf_counter() - t
                yield item

        t = time.perf_counter()
        real(db_path, waiting(), **kw)
        timing["writer_wall"] += time.perf_counter() - t

    ingest_run.write_results = timed_writer  # type: ignore[assignment]

    from prefect.settings import PREFECT_HOME, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    home = Path(tempfile.mkdtemp(prefix="legday-dask-prefect-"))
    try:
        with (
            temporary_settings({PREFECT_HOME: home}),
            prefect_test_harness(server_startup_timeout=120),
        ):
            from flows import backfill as bf

            real_ingest = bf.ingest_paths
            ingest_s: dict[str, float] = {}

            def timed_ingest(*a: Any, **k: Any) -> Any:
                t = time.perf_counter()
                try:
                    return real_ingest(*a, **k)
                finally:
                    ingest_s["s"] = time.perf_counter() - t

            bf.ingest_paths = timed_ingest  # type: ignore[assignment]
            started = time.perf_counter()
            totals = bf.backfill(
                [str(inbox)],
                db=str(db),
                config=str(CONFIG),
                n_workers=args.n_workers,
                batch_size=args.batch_size,
            )
            flow_s = time.perf_counter() - started
    finally:
        shutil.rmtree(home, ignore_errors=True)
    files = sum(totals.values())
    ing = ingest_s.get("s", float("nan"))
    store_s = timing["writer_wall"] - timing["waited"]
    print(f"Dask backfill, local cluster of {args.n_workers} workers (batch {args.batch_size}):")
    print(f"  outcomes {totals}")
    print(f"  flow (cluster start, plan, parse, store, refresh): {flow_s:.1f} s")
    print(
        f"  ingest_paths (plan + parse on the cluster + store): {ing:.1f} s = {files / ing:.1f} files/s"
    )
    print(
        f"  single writer: worked {store_s:.1f} s ({100 * store_s / ing:.1f} % of the ingest), "
        f"waited for the cluster {timing['waited']:.1f} s"
    )
    print(f"  1-min load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
