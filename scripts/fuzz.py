"""``make fuzz``: thousands of mutated FIT files through the parser and the real ingest.

Usage: ``.venv/bin/python scripts/fuzz.py --cases 3000 --seed 20261124 [--out out/fuzz]``

Two passes over the same seeded cases (generators in ``tests/fuzzing.py``):

1. every case is parsed alone in a worker process, timed, under a deadline of
   ``time_bound_s(size)``: the outcome, the reason, the time, and whether ``parse_fit``'s
   catch-all fired (an exception of legday's, not of the file's);
2. the cases go through ``ingest_files`` (2 parser processes) in batches that also hold sound
   files, each batch into a fresh store; every file must get an outcome and every sound file must
   be stored.

Prints a summary and writes ``<out>/report.json``. Exit status 1 when a promise was broken (a
hang, a crash, an internal error, a sound file not stored, a batch that failed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ingest import ingest_files  # noqa: E402
from tests.fuzzing import (  # noqa: E402
    CORPUS_FILES,
    FUZZ_NOW,
    SAMPLE_DATA,
    Case,
    DeadlineExceeded,
    Outcome,
    deadline,
    make_cases,
    parse_case,
    seed_files,
    time_bound_s,
)


def _timed(data: bytes) -> dict[str, Any]:
    """Worker: parse one case under its deadline."""
    bound = time_bound_s(len(data))
    started = time.perf_counter()
    try:
        with deadline(bound):
            out = parse_case(data)
    except DeadlineExceeded:
        return {"status": "hang", "reason": None, "seconds": time.perf_counter() - started}
    except Exception:
        return {"status": "exception", "reason": traceback.format_exc(limit=5), "seconds": 0.0}
    return _as_dict(out)


def _as_dict(out: Outcome) -> dict[str, Any]:
    return {
        "status": out.status,
        "reason": out.reason,
        "warnings": list(out.warnings),
        "seconds": out.seconds,
        "internal_error": out.internal_error,
    }


def parse_pass(cases: list[Case], workers: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(cases)
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        pending: dict[int, Future[dict[str, Any]]] = {}
        for case in cases:
            pending[case.index] = pool.submit(_timed, case.data)
        for i, fut in pending.items():
            try:
                results[i] = fut.result()
            except BrokenProcessPool as exc:  # the interpreter died on a case: note it, go on
                results[i] = {"status": "crash", "reason": repr(exc), "seconds": 0.0}
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers)
                for j in range(i + 1, len(cases)):
                    pending[j] = pool.submit(_timed, cases[j].data)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r or {"status": "missing"} for r in results]


def ingest_pass(cases: list[Case], valid: list[Path], batch: int, workers: int) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures: list[str] = []
    valid_total = valid_stored = files_total = 0
    seconds = 0.0
    for start in range(0, len(cases), batch):
        chunk = cases[start : start + batch]
        with tempfile.TemporaryDirectory(prefix="legday-fuzz-") as tmp:
            folder = Path(tmp) / "in"
            folder.mkdir()
            items: list[tuple[Path, str]] = []
            for p in valid:
                (folder / p.name).write_bytes(p.read_bytes())
                items.append((folder / p.name, "fuzz"))
            for case in chunk:
                (folder / case.name).write_bytes(case.data)
                items.append((folder / case.name, "fuzz"))
            try:
                summary = ingest_files(
                    Path(tmp) / "store.duckdb", items, now=FUZZ_NOW, workers=workers
                )
            except Exception as exc:
                failures.append(f"batch at case {start}: {type(exc).__name__}: {exc}")
                continue
            seconds += summary.seconds
            by_path = {o.path: o for o in summary.outcomes}
            missing = [str(p) for p, _a in items if str(p) not in by_path]
            if missing:
                failures.append(f"batch at case {start}: no outcome for {len(missing)} file(s)")
            files_total += len(items)
            for p in valid:
                valid_total += 1
                o = by_path.get(str(folder / p.name))
                if o is not None and o.status == "stored":
                    valid_stored += 1
                else:
                    failures.append(f"batch at case {start}: sound file {p.name} not stored")
            for case in chunk:
                o = by_path.get(str(folder / case.name))
                if o is None:
                    continue
                outcomes[o.status] += 1
                if o.reason_code:
                    reasons[o.reason_code] += 1
        print(f"  ingest: {min(start + batch, len(cases))}/{len(cases)} cases", flush=True)
    return {
        "batches": (len(cases) + batch - 1) // batch,
        "files": files_total,
        "seconds": round(seconds, 1),
        "mutated_outcomes": dict(outcomes),
        "mutated_reasons": dict(reasons),
        "valid_files": valid_total,
        "valid_stored": valid_stored,
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--max-bytes", type=int, default=100_000, help="largest seed file")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100, help="mutated files per ingest batch")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fuzz")
    ap.add_argument("--skip-ingest", action="store_true", help="parse pass only")
    args = ap.parse_args(argv)

    seeds = seed_files(CORPUS_FILES if CORPUS_FILES.is_dir() else None, max_bytes=args.max_bytes)
    cases = list(make_cases(seeds, args.cases, args.seed))
    started = time.monotonic()
    print(f"fuzz: {len(cases)} cases from {len(seeds)} seed files, seed {args.seed}", flush=True)
    parsed = parse_pass(cases, args.workers)
    parse_seconds = time.monotonic() - started

    by_status = Counter(r["status"] for r in parsed)
    by_reason = Counter(
        f"{r['status']}:{r.get('reason')}" for r in parsed if r["status"] != "stored"
    )
    by_mutation: dict[str, Counter[str]] = {}
    for case, r in zip(cases, parsed, strict=True):
        by_mutation.setdefault(case.mutation, Counter())[r["status"]] += 1
    over = [
        c.name
        for c, r in zip(cases, parsed, strict=True)
        if r.get("seconds", 0) > time_bound_s(len(c.data))
    ]
    slowest = sorted(
        zip(cases, parsed, strict=True), key=lambda cr: -float(cr[1].get("seconds", 0))
    )[:10]
    broken = [
        {"case": c.name, "size": len(c.data), **r}
        for c, r in zip(cases, parsed, strict=True)
        if r["status"] in ("hang", "crash", "exception", "missing") or r.get("internal_error")
    ]
    valid = sorted(SAMPLE_DATA.glob("*.fit"))[:4]
    ingest = {} if args.skip_ingest else ingest_pass(cases, valid, args.batch, args.workers)
    report: dict[str, Any] = {
        "seed": args.seed,
        "cases": len(cases),
        "seed_files": len(seeds),
        "max_seed_bytes": args.max_bytes,
        "parse": {
            "seconds": round(parse_seconds, 1),
            "by_status": dict(by_status),
            "by_reason": dict(sorted(by_reason.items())),
            "by_mutation": {k: dict(v) for k, v in sorted(by_mutation.items())},
            "over_time_bound": over,
            "slowest": [
                {"case": c.name, "size": len(c.data), "seconds": round(r.get("seconds", 0), 3)}
                for c, r in slowest
            ],
            "broken": broken,
        },
        "ingest": ingest,
        "seconds": round(time.monotonic() - started, 1),
    }
    ok = not broken and not over and not ingest.get("failures")
    report["ok"] = ok
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(f"parse pass: {len(cases)} cases in {parse_seconds:.0f} s")
    for status, n in by_status.most_common():
        print(f"  {status:12} {n}")
    print("  reasons: " + ", ".join(f"{k} x{v}" for k, v in sorted(by_reason.items())))
    print("  slowest: " + ", ".join(f"{c.name} {r.get('seconds', 0):.2f}s" for c, r in slowest[:3]))
    print(f"  over the time bound: {len(over)}; hangs/crashes/internal errors: {len(broken)}")
    for b in broken[:10]:
        print(f"    {b['case']}: {b['status']} {b.get('internal_error') or b.get('reason')}")
    if ingest:
        print(
            f"ingest pass: {ingest['files']} files in {ingest['batches']} batches, "
            f"{ingest['seconds']} s; mutated: {ingest['mutated_outcomes']}; "
            f"sound files stored {ingest['valid_stored']}/{ingest['valid_files']}; "
            f"failures: {len(ingest['failures'])}"
        )
        for f in ingest["failures"][:10]:
            print(f"    {f}")
    print(f"{'OK' if ok else 'FAILED'}: report in {args.out / 'report.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
