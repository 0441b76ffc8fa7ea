"""A multi-year training history of one athlete, as FIT files, for the benchmarks.

The files come from ``sample_data/generate.py`` (loaded by path, not copied): its simulation of
1 Hz runs and rides and of strength sessions set by set, and its ``garmin_fit_sdk`` encoder.
This module only plans which activity happens when: a seeded week template (legs twice a week,
intervals, tempo, upper body, a long run, sometimes a ride) repeated over the years, with
durations and efforts drawn from ``random.Random(seed/date/key)``.

The output is cached under ``out/bench/history/<key>/`` where the key hashes everything that
decides the bytes (this file, the sample generator, the encoder version and the parameters), so a
second ``make bench`` reuses the files and a change of any input regenerates them. Files are
written to a temporary folder and renamed when complete: an interrupted run leaves no half cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "sample_data" / "generate.py"
DEFAULT_CACHE = ROOT / "out" / "bench" / "history"
#: The history ends the day before the sample data's two-week block begins.
DEFAULT_END = date(2026, 10, 18)
SEED = 20231023


def load_generator() -> ModuleType:
    """``sample_data/generate.py`` as a module (it is a script, not part of a package)."""
    name = "legday_sample_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Planned:
    """One activity of the history: when, what, and the seed of its randomness."""

    local_start: str  # naive wall-clock ISO time in the athlete's zone
    key: str  # run-easy, run-intervals, run-tempo, run-steady, run-long, strength-legs, ...
    variant: int  # picks the exercise list or the workout shape

    @property
    def file_name(self) -> str:
        return f"{datetime.fromisoformat(self.local_start):%Y-%m-%d-%H%M}-{self.key}.fit"


def plan_history(
    *, weeks: int, end: date = DEFAULT_END, seed: int = SEED, ride_share: float = 0.3
) -> list[Planned]:
    """About six activities a week, ending on ``end``.

    Legs on Monday evening and Friday, intervals on Tuesday, tempo or steady on Thursday, a long
    run on Saturday; an easy Monday run and upper body on Wednesday every other week on average,
    and a Sunday ride on ``ride_share`` of the weeks.
    """
    rng = random.Random(f"{seed}/plan")
    first_monday = end - timedelta(days=end.weekday()) - timedelta(weeks=weeks - 1)
    out: list[Planned] = []

    def at(day: date, hh: int, mm: int, key: str, variant: int = 0) -> None:
        if day <= end:
            out.append(
                Planned(datetime(day.year, day.month, day.day, hh, mm).isoformat(), key, variant)
            )

    for w in range(weeks):
        mon = first_monday + timedelta(weeks=w)
        if rng.random() < 0.5:
            at(mon, 7, 0, "run-easy", rng.randrange(3))
        at(mon, 18, 0, "strength-legs", w % 2)
        at(mon + timedelta(days=1), 7, 0, "run-intervals", rng.randrange(3))
        if rng.random() < 0.5:
            at(mon + timedelta(days=2), 18, 30, "strength-upper", w % 2)
        at(mon + timedelta(days=3), 7, 0, rng.choice(["run-tempo", "run-steady"]), rng.randrange(3))
        at(mon + timedelta(days=4), 18, 0, "strength-legs", 2)
        at(mon + timedelta(days=5), 9, 0, "run-long", rng.randrange(3))
        if rng.random() < ride_share:
            at(mon + timedelta(days=6), 10, 0, "ride-road", rng.randrange(3))
    return out


def plan_nightly(end: date = DEFAULT_END) -> list[Planned]:
    """The three files a nightly run brings in: the day after the history ends."""
    day = end + timedelta(days=1)
    return [
        Planned(datetime(day.year, day.month, day.day, 7, 0).isoformat(), "run-intervals", 1),
        Planned(datetime(day.year, day.month, day.day, 12, 30).isoformat(), "strength-upper", 0),
        Planned(datetime(day.year, day.month, day.day, 18, 0).isoformat(), "strength-legs", 0),
    ]


def _activity(gen: ModuleType, p: Planned, rng: random.Random) -> Any:
    """The generator's ``Activity`` for one planned slot, with drawn durations and efforts."""
    start = datetime.fromisoformat(p.local_start)
    a = gen.Activity
    hr = rng.uniform(-3.0, 3.0)  # day-to-day form
    if p.key == "run-easy":
        segs = gen._easy(rng.randrange(30, 56), 126 + hr, rng.uniform(2.8, 3.0))
        return a(p.key, start, "run", "running", "street", segs, auto_lap_m=1000, terrain="rolling")
    if p.key == "run-intervals":
        n, on_s, off_s = [(6, 180, 120), (5, 240, 150), (10, 60, 90)][p.variant]
        reps = gen._reps(n, on_s, 171 + hr, 4.4, off_s, 136, 2.55)
        return a(p.key, start, "run", "running", "street", (gen.WARM, *reps, gen.COOL), rpe=8)
    if p.key == "run-tempo":
        tempo = gen.Seg(rng.randrange(20, 36) * 60, 163 + hr, 3.9, "active", lap=True)
        return a(p.key, start, "run", "running", "street", (gen.WARM, tempo, gen.COOL), rpe=7)
    if p.key == "run-steady":
        segs = (
            gen.Seg(300, 132, 2.9, "warmup"),
            gen.Seg(rng.randrange(35, 56) * 60, 147 + hr, 3.45),
        )
        return a(p.key, start, "run", "running", "street", segs, auto_lap_m=1000, terrain="rolling")
    if p.key == "run-long":
        segs = gen._easy(rng.randrange(70, 111), 128 + hr, rng.uniform(2.85, 3.0))
        terrain = ["trail", "rolling", "flat"][p.variant]
        return a(
            p.key,
            start,
            "run",
            "running",
            "trail" if terrain == "trail" else "street",
            segs,
            auto_lap_m=1000,
            terrain=terrain,
            drift_bpm_per_h=2.0,
        )
    if p.key == "ride-road":
        main = gen.Seg(rng.randrange(45, 121) * 60, 134 + hr, 8.4)
        segs = (gen.Seg(600, 118, 7.2, "warmup"), main, gen.Seg(600, 120, 7.4, "cooldown"))
        return a(
            p.key,
            start,
            "ride",
            "cycling",
            "road",
            segs,
            auto_lap_m=10_000,
            terrain="rolling",
            drift_bpm_per_h=2.0,
        )
    if p.key == "strength-legs":
        exercises = (gen.LEGS_A, gen.LEGS_B, gen.LEGS_WATCH)[p.variant]
        return a(
            p.key,
            start,
            "leg_strength",
            "training",
            "strength_training",
            exercises=exercises,
            watch_style=p.variant == 2,
            workout_name="Leg Day B" if p.variant == 2 else None,
        )
    if p.key == "strength-upper":
        exercises = (gen.UPPER_A, gen.UPPER_B)[p.variant]
        return a(p.key, start, "strength", "training", "strength_training", exercises=exercises)
    raise ValueError(f"unknown activity key {p.key!r}")


def encode_planned(p: Planned, seed: int = SEED) -> bytes:
    """The FIT bytes of one planned activity (deterministic for a given seed)."""
    gen = load_generator()
    rng = random.Random(f"{seed}/{p.file_name}")
    act = _activity(gen, p, rng)
    local = act.local_start.replace(second=rng.randrange(3, 55), tzinfo=gen.TZ)
    start_utc = local.astimezone(UTC)
    if act.exercises:
        sim = gen.simulate_strength(act, rng, start_utc)
    else:
        sim = gen.simulate_endurance(act, rng, start_utc)
    stats = gen.hr_stats(sim.samples)
    above = sum(1 for s in sim.samples if s.hr >= 0.9 * gen.MAX_HR)
    return bytes(gen.encode(act, sim, {"trimp": stats["banister_trimp"], "secs_above_z5": above}))


def _write_one(args: tuple[Planned, int, str]) -> int:
    p, seed, folder = args
    data = encode_planned(p, seed)
    (Path(folder) / p.file_name).write_bytes(data)
    return len(data)


@dataclass(frozen=True)
class History:
    """A generated history on disk."""

    root: Path
    files: Path  # the multi-year history
    nightly: Path  # three newer files for the nightly-run benchmark
    n_files: int
    n_bytes: int
    report_day: date  # local day of the nightly files
    generated: bool  # False when the cache was reused
    seconds: float


def cache_key(weeks: int, end: date, seed: int) -> str:
    import garmin_fit_sdk

    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(GENERATOR.read_bytes())
    h.update(json.dumps([garmin_fit_sdk.__version__, weeks, end.isoformat(), seed]).encode())
    return h.hexdigest()[:16]


def ensure_history(
    *,
    weeks: int = 3 * 52,
    end: date = DEFAULT_END,
    seed: int = SEED,
    cache: Path = DEFAULT_CACHE,
    workers: int = 2,
    log: Any = None,
) -> History:
    """Generate the history (or reuse the cached one) and say where it is."""
    import time

    started = time.monotonic()
    key = cache_key(weeks, end, seed)
    root = cache / f"w{weeks}-{key}"
    manifest = root / "manifest.json"
    generated = False
    if not manifest.is_file():
        generated = True
        tmp = cache / f".tmp-{key}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "files").mkdir(parents=True)
        (tmp / "nightly").mkdir()
        jobs = [
            (p, seed, str(tmp / "files")) for p in plan_history(weeks=weeks, end=end, seed=seed)
        ]
        jobs += [(p, seed, str(tmp / "nightly")) for p in plan_nightly(end)]
        if log:
            log(f"generating {len(jobs)} FIT files into {root} (cached for later runs) ...")
        if workers > 1 and len(jobs) > 8:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                sizes = list(pool.map(_write_one, jobs, chunksize=4))
        else:
            sizes = [_write_one(j) for j in jobs]
        info = {
            "weeks": weeks,
            "end": end.isoformat(),
            "seed": seed,
            "files": len(jobs) - 3,
            "bytes": sum(sizes[:-3]),
            "plan": [asdict(j[0]) for j in jobs],
        }
        (tmp / "manifest.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    info = json.loads(manifest.read_text(encoding="utf-8"))
    return History(
        root=root,
        files=root / "files",
        nightly=root / "nightly",
        n_files=int(info["files"]),
        n_bytes=int(info["bytes"]),
        report_day=end + timedelta(days=1),
        generated=generated,
        seconds=time.monotonic() - started,
    )


if __name__ == "__main__":
    h = ensure_history(log=print)
    print(f"{h.n_files} files, {h.n_bytes / 1e6:.1f} MB in {h.files} ({h.seconds:.0f} s)")
