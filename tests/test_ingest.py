"""Ingest into a real DuckDB file: every file accounted for, nothing stored twice, re-runs inert."""

from __future__ import annotations

import functools
import os
import re
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.ingest import FileOutcome, ingest_files
from pipeline.store import db as st
from tests.helpers import NOW, ingest, rows, snapshot

BROKEN_REASONS = {
    "activity-activity-filecrc.fit": "crc_mismatch",
    "activity-filecrc.fit": "crc_mismatch",
    "activity-settings-corruptheader.fit": "trailing_bytes",
    "activity-settings-nodata.fit": "truncated",
    "activity-unexpected-eof.fit": "truncated",
    "nick.fit": "truncated",
    "strava-android-app-201.10-b1218918.fit": "truncated",
}


def _manifest_sessions(cell: str) -> list[tuple[str | None, str | None]]:
    """'running/generic | 75(volleyball)/None' -> [('running', 'generic'), ('volleyball', None)]."""
    out = []
    for part in (p.strip() for p in cell.split("|") if p.strip()):
        sport, _, sub = part.partition("/")
        m = re.fullmatch(r"\d+\((\w+)\)", sport)
        name = m.group(1) if m else sport
        out.append((None if name == "None" else name, None if sub in ("None", "") else sub))
    return out


@pytest.fixture(scope="module")
def corpus_store(
    tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path
) -> tuple[Path, dict[str, FileOutcome]]:
    db = tmp_path_factory.mktemp("corpus") / "legday.duckdb"
    files = sorted(corpus_dir.glob("*.fit"))
    summary = ingest(db, files, workers=2)
    return db, {Path(o.path).name: o for o in summary.outcomes}


@pytest.mark.corpus
def test_every_corpus_file_has_an_outcome(
    corpus_store: tuple[Path, dict[str, FileOutcome]], corpus_manifest: list[dict[str, str]]
) -> None:
    db, outcomes = corpus_store
    assert set(outcomes) == {r["file"] for r in corpus_manifest}
    recorded = dict(rows(db, "SELECT original_name, status FROM files"))
    assert {n: o.status for n, o in outcomes.items()} == recorded
    assert all(o.message for o in outcomes.values() if o.status != "stored")


@pytest.mark.corpus
def test_broken_corpus_files_are_partial_with_the_right_reason(
    corpus_store: tuple[Path, dict[str, FileOutcome]], corpus_manifest: list[dict[str, str]]
) -> None:
    _db, outcomes = corpus_store
    broken = {r["file"] for r in corpus_manifest if r["parses_with_fitparse"] != "yes"}
    assert len(broken) == 7
    got = {}
    for name in broken:
        short = next(k for k in BROKEN_REASONS if name.endswith(k))
        got[short] = (outcomes[name].status, outcomes[name].reason_code)
    assert got == {k: ("partial", v) for k, v in BROKEN_REASONS.items()}


@pytest.mark.corpus
def test_decodable_corpus_files_are_stored_with_the_manifest_sessions(
    corpus_store: tuple[Path, dict[str, FileOutcome]], corpus_manifest: list[dict[str, str]]
) -> None:
    db, outcomes = corpus_store
    mismatches = []
    for r in corpus_manifest:
        if r["parses_with_fitparse"] != "yes":
            continue
        o = outcomes[r["file"]]
        # A second copy of a recording already stored (same device and creation time) is a
        # duplicate: its sessions are those of the copy that holds them.
        sha = o.duplicate_of if o.status == "duplicate" else o.sha256
        assert o.status in ("stored", "duplicate"), (r["file"], o.status, o.message)
        sessions = rows(
            db,
            "SELECT sport, sub_sport FROM activities WHERE file_sha256 = ? AND summary_source = 'session' "
            "ORDER BY session_index",
            [sha],
        )
        hr = rows(
            db,
            "SELECT count(*) FROM hr_samples h JOIN activities a USING (athlete_id, activity_id) "
            "WHERE a.file_sha256 = ? AND h.source = 'record'",
            [sha],
        )[0][0]
        expected = _manifest_sessions(r["sport_sub_sport"]) if int(r["n_sessions"]) else []
        if o.status == "stored" and (sessions != expected or hr != int(r["n_hr_records"])):
            mismatches.append((r["file"], sessions, expected, hr, r["n_hr_records"]))
    assert mismatches == []
    stored = sum(1 for o in outcomes.values() if o.status == "stored")
    duplicates = [n for n, o in outcomes.items() if o.status == "duplicate"]
    assert stored + len(duplicates) == 88
    assert len(duplicates) == 3  # settings+activity chain, summary-last triathlon, SDK sample


@pytest.mark.corpus
def test_active_strength_sets_match_the_manifest(
    corpus_store: tuple[Path, dict[str, FileOutcome]], corpus_manifest: list[dict[str, str]]
) -> None:
    db, outcomes = corpus_store
    for r in corpus_manifest:
        if int(r["n_active_set"] or 0) == 0:
            continue
        sha = outcomes[r["file"]].sha256
        n = rows(
            db,
            "SELECT count(*) FROM strength_sets s JOIN activities a USING (athlete_id, activity_id) "
            "WHERE a.file_sha256 = ? AND s.set_type = 'active'",
            [sha],
        )[0][0]
        assert n == int(r["n_active_set"]), r["file"]


@pytest.mark.corpus
def test_ingesting_the_same_folder_twice_changes_nothing(
    corpus_store: tuple[Path, dict[str, FileOutcome]], corpus_dir: Path
) -> None:
    db, _ = corpus_store
    before = snapshot(
        db, (*("activities", "hr_samples", "strength_sets", "files", "file_sightings"),)
    )
    again = ingest(db, sorted(corpus_dir.glob("*.fit")), workers=2)
    assert {o.status for o in again.outcomes} == {"duplicate"}
    assert all(o.already_known for o in again.outcomes)
    assert (
        snapshot(db, ("activities", "hr_samples", "strength_sets", "files", "file_sightings"))
        == before
    )


def test_a_renamed_copy_is_a_duplicate(tmp_path: Path, sample_dir: Path) -> None:
    src = sorted(sample_dir.glob("*.fit"))[0]
    copy = tmp_path / "renamed copy.FIT"
    shutil.copy(src, copy)
    db = tmp_path / "s.duckdb"
    first = ingest(db, [src]).outcomes[0]
    second = ingest(db, [copy]).outcomes[0]
    assert first.status == "stored" and second.status == "duplicate"
    assert second.reason_code == "same_bytes"
    assert rows(db, "SELECT count(*) FROM activities")[0][0] == 1
    assert rows(db, "SELECT count(*) FROM file_sightings")[0][0] == 2


def test_a_complete_copy_supersedes_a_truncated_one(tmp_path: Path, sample_dir: Path) -> None:
    src = next(p for p in sorted(sample_dir.glob("*.fit")) if "run" in p.name)
    data = src.read_bytes()
    cut = tmp_path / "half-synced.fit"
    cut.write_bytes(data[: len(data) * 2 // 3])
    db = tmp_path / "s.duckdb"
    partial = ingest(db, [cut]).outcomes[0]
    assert (partial.status, partial.reason_code) == ("partial", "truncated")
    hr_partial = rows(db, "SELECT count(*) FROM hr_samples")[0][0]
    full = ingest(db, [src]).outcomes[0]
    assert full.status == "stored"
    assert rows(db, "SELECT count(*) FROM activities")[0][0] == 1
    assert rows(db, "SELECT count(*) FROM hr_samples")[0][0] > hr_partial
    status, dup_of = rows(
        db, "SELECT status, duplicate_of FROM files WHERE sha256 = ?", [partial.sha256]
    )[0]
    assert (status, dup_of) == ("duplicate", full.sha256)
    # and the other way round: a truncated copy after the complete one adds nothing
    late = ingest(db, [cut.rename(tmp_path / "late.fit")]).outcomes[0]
    assert late.status == "duplicate" and late.already_known


def test_one_bad_file_never_stops_the_others(tmp_path: Path, sample_dir: Path) -> None:
    good = sorted(sample_dir.glob("*.fit"))[:3]
    bad = []
    for name, content in [("empty.fit", b""), ("notes.fit", b"hello, not a FIT file\n" * 40)]:
        (tmp_path / name).write_bytes(content)
        bad.append(tmp_path / name)
    summary = ingest(tmp_path / "s.duckdb", [bad[0], *good, bad[1]], workers=2)
    by = {Path(o.path).name: (o.status, o.reason_code) for o in summary.outcomes}
    assert by["empty.fit"] == ("quarantined", "empty")
    assert by["notes.fit"] == ("quarantined", "not_fit")
    assert all(by[p.name][0] == "stored" for p in good)
    q = rows(
        tmp_path / "s.duckdb",
        "SELECT reason_code, message FROM files WHERE status = 'quarantined' ORDER BY 1",
    )
    assert [r[0] for r in q] == ["empty", "not_fit"] and all(r[1] for r in q)


def test_a_file_is_written_in_one_transaction(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose rows cannot all be written leaves none; the batch's other files are stored."""
    from pipeline.fit import parse_fit
    from pipeline.ingest.decide import activity_id, fit_identity

    files = sorted(sample_dir.glob("*.fit"))[:3]
    identity = fit_identity(parse_fit(files[0].read_bytes()))
    assert identity is not None
    doomed = activity_id("me", identity, 0)
    real = st.Store.insert_frame

    def failing(self: st.Store, table: str, df: pl.DataFrame, **kw: object) -> None:
        if table == "hr_samples" and doomed in df["activity_id"].to_list():
            raise RuntimeError("disk hiccup")
        real(self, table, df, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(st.Store, "insert_frame", failing)
    summary = ingest(tmp_path / "s.duckdb", files)
    first, *others = summary.outcomes
    assert (first.status, first.reason_code) == ("quarantined", "store_error")
    assert [o.status for o in others] == ["stored", "stored"]
    db = tmp_path / "s.duckdb"
    assert (
        rows(db, "SELECT count(*) FROM activities WHERE file_sha256 = ?", [first.sha256])[0][0] == 0
    )
    assert rows(db, "SELECT count(*) FROM files WHERE sha256 = ?", [first.sha256])[0][0] == 0
    assert rows(db, "SELECT count(*) FROM activities")[0][0] == 2


def test_batches_give_the_same_rows_as_one_file_per_transaction(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(sample_dir.glob("*.fit"))
    ingest(tmp_path / "batched.duckdb", files)
    import pipeline.ingest.run as ing

    monkeypatch.setattr(ing, "write_results", functools.partial(ing.write_results, batch_files=1))
    ingest(tmp_path / "single.duckdb", files)
    tables = ("activities", "laps", "hr_samples", "strength_sets", "workout_steps")
    assert snapshot(tmp_path / "batched.duckdb", tables) == snapshot(
        tmp_path / "single.duckdb", tables
    )


# --- the same bytes twice in one batch (issue 10, defect 3) ------------------------------------


def _zip_of(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return target


def _ingest_with_zips(db: Path, paths: list[Path], workspace: Path) -> list[FileOutcome]:
    return ingest_files(db, [(p, "me") for p in paths], now=NOW, unpack_dir=workspace).outcomes


def test_a_file_and_a_zip_holding_it_in_one_batch(tmp_path: Path, sample_dir: Path) -> None:
    """a.fit beside b.zip (a.fit inside): stored once, the repeat is a duplicate, no store_error."""
    fits = sorted(sample_dir.glob("*.fit"))[:2]
    loose = tmp_path / "in" / "a.fit"
    loose.parent.mkdir()
    shutil.copy(fits[0], loose)
    _zip_of(
        tmp_path / "in" / "b.zip", {"a.fit": fits[0].read_bytes(), "c.fit": fits[1].read_bytes()}
    )
    db = tmp_path / "s.duckdb"
    out = _ingest_with_zips(db, [loose, tmp_path / "in" / "b.zip"], tmp_path / "work")
    by = {o.name: (o.status, o.reason_code) for o in out}
    assert by == {
        "a.fit": ("stored", None),
        "b.zip!a.fit": ("duplicate", "same_bytes"),
        "b.zip!c.fit": ("stored", None),
        "b.zip": ("stored", None),
    }
    # every outcome's status is the one `files` holds for its bytes
    held = dict(rows(db, "SELECT sha256, status FROM files"))
    assert len(held) == 3
    for o in out:
        if o.status != "duplicate":
            assert held[o.sha256] == o.status, o.name
    assert rows(db, "SELECT count(*) FROM activities")[0][0] == 2
    # the member's sighting says where it was seen (inside the zip), not the scratch folder
    seen = {r[0] for r in rows(db, "SELECT path FROM file_sightings")}
    assert f"{tmp_path / 'in' / 'b.zip'}!a.fit" in seen
    assert not any(str(tmp_path / "work") in s for s in seen)


def test_the_same_bytes_twice_reaching_the_writer_are_a_duplicate(
    tmp_path: Path, sample_dir: Path
) -> None:
    """The writer itself never inserts the same bytes twice, whatever the plan let through."""
    from pipeline.fit import parse_file
    from pipeline.ingest.writer import write_results

    src = sorted(sample_dir.glob("*.fit"))[0]
    copy = tmp_path / "copy.fit"
    shutil.copy(src, copy)
    db = tmp_path / "s.duckdb"
    with st.open_store(db) as s:
        s.migrate(NOW)
    done: list[FileOutcome] = []
    results = [(str(p), "me", parse_file(str(p), NOW)) for p in (src, copy)]
    write_results(db, iter(results), now=NOW, on_done=done.append)
    assert [(o.status, o.reason_code) for o in done] == [
        ("stored", None),
        ("duplicate", "same_bytes"),
    ]
    assert rows(db, "SELECT count(*) FROM files")[0][0] == 1
    assert rows(db, "SELECT count(*) FROM file_sightings")[0][0] == 2


def test_reingesting_an_archive_folder_gives_duplicates_only(
    tmp_path: Path, sample_dir: Path
) -> None:
    """A folder holding zips and loose copies of their members: twice, into a fresh store each
    time and into the same store, never a store_error."""
    fits = sorted(sample_dir.glob("*.fit"))[:6]
    folder = tmp_path / "archive"
    folder.mkdir()
    for f in fits[:4]:
        shutil.copy(f, folder / f.name)
    _zip_of(folder / "part1.zip", {f.name: f.read_bytes() for f in fits[:3]})
    _zip_of(folder / "part2.zip", {f.name: f.read_bytes() for f in fits[2:]})
    files = sorted(folder.iterdir())
    db = tmp_path / "s.duckdb"
    first = _ingest_with_zips(db, files, tmp_path / "w1")
    assert not [o for o in first if o.reason_code == "store_error"]
    assert sum(o.status == "stored" for o in first) == 6 + 2  # 6 activities, 2 archives
    assert rows(db, "SELECT count(*) FROM activities")[0][0] == 6
    again = _ingest_with_zips(db, files, tmp_path / "w2")
    assert {o.status for o in again} == {"duplicate"}
    assert len(again) == len(files)  # known zips are not unpacked again


def test_unpack_workspace_leaves_nothing_and_clears_what_dead_runs_left(tmp_path: Path) -> None:
    """Issue 10 (8): extracted members do not pile up, even after a run was killed."""
    import subprocess
    import sys

    from pipeline.ingest import unpack_workspace

    root = tmp_path / ".legday-unpacked"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    left = root / f"run-{dead.stdout.strip()}-abc123" / "0123456789abcdef"
    left.mkdir(parents=True)
    (left / "a.fit").write_bytes(b"left by a killed run")
    alive = root / f"run-{os.getpid()}-other"  # a run of a live process is left alone
    alive.mkdir()
    with unpack_workspace(root) as folder:
        assert not left.parent.exists() and alive.exists()
        assert not folder.exists()  # made only when a zip is unpacked
        (folder / "x").mkdir(parents=True)
    assert not folder.exists() and alive.exists()
    alive.rmdir()
    with unpack_workspace(root):
        pass
    assert not root.exists()


def test_an_archive_recorded_meanwhile_by_another_run_is_a_duplicate(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs unpack the same zip at once: the later record is a duplicate, not a crash."""
    import pipeline.ingest.run as ing

    fit = sorted(sample_dir.glob("*.fit"))[0]
    z = _zip_of(tmp_path / "e.zip", {"a.fit": fit.read_bytes()})
    db = tmp_path / "s.duckdb"
    real, other_ran = ing.write_results, []

    def and_meanwhile(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        if not other_ran:
            other_ran.append(True)
            ing.ingest_files(db, [(z, "me")], now=NOW, unpack_dir=tmp_path / "other")

    monkeypatch.setattr(ing, "write_results", and_meanwhile)
    out = _ingest_with_zips(db, [z], tmp_path / "work")
    by = {o.name: (o.status, o.reason_code) for o in out}
    assert by["e.zip"] == ("duplicate", "same_bytes")
    assert rows(db, "SELECT status FROM files WHERE original_name = 'e.zip'") == [("stored",)]


def test_a_file_the_parser_died_on_has_a_quarantined_row(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted quarantined, so `files` (and status, and the report) hold it as quarantined."""
    from pipeline.ingest.plan import ParseJob
    from pipeline.ingest.workers import iter_parsed

    files = sorted(sample_dir.glob("*.fit"))[:2]

    def dies_on_the_first(jobs: list[ParseJob], now: datetime) -> object:
        for job, result in iter_parsed(jobs, now, 1):
            if job.path == str(files[0]):
                result = (None, 0, None, "the parser process died on this file (BrokenProcessPool)")
            yield job, result

    db = tmp_path / "s.duckdb"
    out = ingest_files(db, [(f, "me") for f in files], now=NOW, parser=dies_on_the_first)  # type: ignore[arg-type]
    assert [(o.status, o.reason_code) for o in out.outcomes] == [
        ("quarantined", "parser_crash"),
        ("stored", None),
    ]
    assert rows(db, "SELECT original_name, status, reason_code FROM files ORDER BY 1") == [
        (files[0].name, "quarantined", "parser_crash"),
        (files[1].name, "stored", None),
    ]
    assert "died on this file" in (out.outcomes[0].message or "")


def test_the_root_unpacks_zips_whatever_parses(tmp_path: Path, sample_dir: Path) -> None:
    """The backfill passes its own parser to the one composition root: a zip given to it is
    unpacked and its members reach that parser, bytes and all (read once, by the plan)."""
    from pipeline.config import load_settings
    from pipeline.ingest import ingest_paths
    from pipeline.ingest.plan import ParseJob
    from pipeline.ingest.workers import parse_job

    fits = sorted(sample_dir.glob("*.fit"))[:2]
    folder = tmp_path / "export"
    folder.mkdir()
    _zip_of(folder / "garmin.zip", {f"Uploaded/{f.name}": f.read_bytes() for f in fits})
    settings = load_settings(env={}, cwd=tmp_path, db=tmp_path / "data" / "legday.duckdb")
    seen: list[ParseJob] = []

    def parser(jobs: list[ParseJob], now: datetime) -> object:
        for job in jobs:
            seen.append(job)
            yield job, parse_job(job, now)

    summary = ingest_paths(settings, [folder], now=NOW, parser=parser)  # type: ignore[arg-type]
    assert sorted(Path(j.path).name for j in seen) == sorted(f.name for f in fits)
    assert all(j.data is not None for j in seen)
    assert summary.counts() == {"stored": 3, "partial": 0, "duplicate": 0, "quarantined": 0}
    assert summary.needs_refresh
    assert sorted(o.name for o in summary.outcomes) == sorted(
        [f"garmin.zip!{f.name}" for f in fits] + ["garmin.zip"]
    )
    assert not settings.unpack_root.exists()  # the run's unpacked copies are gone


def test_a_hung_parser_is_killed_and_its_file_given_up_alone(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Supervision: a worker that overruns its time is killed (by the pid it reported), its
    file is retried alone and then given up with a reason; the run ends promptly."""
    import time

    from pipeline.ingest import workers as w
    from pipeline.ingest.plan import ParseJob

    pool = w._Pool(1)
    fut = pool.executor.submit(time.sleep, 120)  # a worker that hangs
    started = time.monotonic()
    while pool._pids.empty() and time.monotonic() - started < 30:
        time.sleep(0.05)
    t0 = time.monotonic()
    pool.stop()
    assert time.monotonic() - t0 < 10 and fut.done()

    monkeypatch.setattr(w, "parse_timeout_s", lambda size: 0.0)  # every parse "hangs"
    files = sorted(sample_dir.glob("*.fit"))[:2]
    jobs = [ParseJob(str(f), "me", "0" * 64, f.read_bytes()) for f in files]
    t0 = time.monotonic()
    out = list(w.iter_parsed(jobs, NOW, 2))
    assert [j.path for j, _r in out] == [str(f) for f in files]  # input order, each once
    assert all(r[2] is None and "did not finish" in (r[3] or "") for _j, r in out)
    assert time.monotonic() - t0 < 60
