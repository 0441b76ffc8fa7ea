"""The inbox library: names, athletes, readiness, and filing away after the store committed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from pipeline.config import AthleteSettings, Settings
from pipeline.inbox.filing import archive_month, ingest_and_file, move_no_clobber
from pipeline.inbox.readiness import Probe, ReadinessTracker, probe_file, sweep_inbox, wait_needed
from pipeline.inbox.scan import InboxFile, classify_path, scan_inbox
from pipeline.ingest.collect import is_temporary_name
from pipeline.store import db as st

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "data" / "legday.duckdb",
        data_dir=tmp_path / "data",
        default_athlete="sam",
        athletes={"sam": AthleteSettings(timezone="Europe/Berlin"), "kim": AthleteSettings()},
        inbox_athletes={"garmin-kim": "kim"},
    )


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    p = tmp_path / "inbox"
    p.mkdir()
    return p


def sample(sample_dir: Path, i: int = 0) -> Path:
    return sorted(sample_dir.glob("*.fit"))[i]


@pytest.mark.parametrize(
    ("name", "temporary"),
    [
        ("run.fit", False),
        ("run.FIT", False),
        ("run.fit.part", True),
        ("run.fit.crdownload", True),
        ("run.fit.tmp", True),
        ("run.fit~", True),
        (".run.fit", True),
        ("Unconfirmed 1.crdownload", True),
    ],
)
def test_temporary_names(name: str, temporary: bool) -> None:
    assert is_temporary_name(name) is temporary


def test_athletes_from_subfolders(inbox: Path, settings: Settings) -> None:
    def athlete(rel: str) -> str | None:
        v = classify_path(inbox, inbox / rel, settings)
        return v.athlete_id if isinstance(v, InboxFile) else None

    assert athlete("a.fit") == "sam"
    assert athlete("kim/a.fit") == "kim"
    assert athlete("kim/2026/a.fit") == "kim"
    assert athlete("garmin-kim/a.fit") == "kim"
    assert athlete("stranger/a.fit") is None


def test_scan_skips_temporaries_symlinks_and_own_folders(
    inbox: Path, settings: Settings, tmp_path: Path
) -> None:
    (inbox / "a.fit").write_bytes(b"x")
    (inbox / "b.fit.part").write_bytes(b"x")
    (inbox / ".hidden.fit").write_bytes(b"x")
    outside = tmp_path / "outside.fit"
    outside.write_bytes(b"precious")
    (inbox / "link.fit").symlink_to(outside)
    (inbox / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    own = inbox / "archive"
    own.mkdir()
    (own / "old.fit").write_bytes(b"x")
    taken, skipped = scan_inbox(inbox, settings, exclude=[own])
    assert [f.path.name for f in taken] == ["a.fit"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons["link.fit"] == "symlink_outside"
    assert reasons["linkdir"] == "symlink_outside"
    assert reasons["b.fit.part"] == "temporary"


def test_probe_states(sample_dir: Path, tmp_path: Path) -> None:
    data = sample(sample_dir).read_bytes()
    cases = {
        "complete": data,
        "incomplete": data[: len(data) // 2],
        "trailing": data + b"\x01\x02",
        "not_fit": b"this is not a FIT file at all",
        "short": b"\x0e\x10",
    }
    for state, content in cases.items():
        p = tmp_path / f"{state}.fit"
        p.write_bytes(content)
        probe = probe_file(p)
        assert probe is not None and probe.state == state, state
    assert probe_file(tmp_path / "gone.fit") is None


def test_exports_and_calendars_are_complete_only_at_their_end(
    sample_dir: Path, tmp_path: Path
) -> None:
    """A slow copy of a .fit.gz, a calendar or a summary JSON is not taken half-written."""
    import gzip

    gz = gzip.compress(sample(sample_dir).read_bytes())
    cal = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    doc = b'[{"summarizedActivitiesExport": [{"activityId": 1, "name": "Leg day"}]}]'
    cases = [
        ("1.fit.gz", gz, "complete"),
        ("2.fit.gz", gz[: len(gz) // 2], "incomplete"),
        ("a.ics", cal, "complete"),
        ("b.ics", cal[:-20], "incomplete"),
        ("x_summarizedActivities.json", doc, "complete"),
        ("y_summarizedActivities.json", doc[:-5], "incomplete"),
        ("activities.csv", b"Activity ID,Activity Date\n1,x\n", "not_fit"),
    ]
    for name, content, state in cases:
        p = tmp_path / name
        p.write_bytes(content)
        probe = probe_file(p)
        assert probe is not None and probe.state == state, name
    assert wait_needed("incomplete", 2.0, 120.0) == 120.0
    assert wait_needed("complete", 2.0, 120.0) == 2.0


def test_tracker_waits_for_settle_and_hands_on_once() -> None:
    t = ReadinessTracker(settle_s=2.0, stalled_s=30.0, retry_s=100.0)
    p = Path("/in/a.fit")
    t.observe(p, Probe(100, 1, "complete"), now=0.0)
    assert t.due(1.9) == []
    t.observe(p, Probe(120, 2, "complete"), now=1.9)  # changed: the clock restarts
    assert t.due(3.8) == []
    assert [x[0] for x in t.due(3.9)] == [p]
    assert t.due(50.0) == []  # handed on once
    assert [x[0] for x in t.due(104.0)] == [p]  # still there long after: again


def test_tracker_gives_incomplete_files_the_stalled_time() -> None:
    t = ReadinessTracker(settle_s=2.0, stalled_s=30.0)
    p = Path("/in/a.fit")
    t.observe(p, Probe(100, 1, "incomplete"), now=0.0)
    assert t.due(29.0) == []
    assert [x[0] for x in t.due(30.0)] == [p]
    t.observe(p, None, now=31.0)
    assert t.tracked() == []


@given(hs.lists(hs.tuples(hs.floats(0.01, 5.0), hs.integers(0, 3)), min_size=1, max_size=40))
def test_tracker_never_hands_on_a_file_before_it_settled(steps: list[tuple[float, int]]) -> None:
    """Invariant: a file is due only after its size/mtime stayed put for the time its state needs."""
    t = ReadinessTracker(settle_s=2.0, stalled_s=10.0, retry_s=1e9)
    p = Path("/in/a.fit")
    now, last_change, last_size = 0.0, 0.0, None
    handed = changes = 0
    for dt, size in steps:
        now += dt
        if size != last_size:
            last_size, last_change = size, now
            changes += 1
        # size 3 is the whole file; anything shorter is a copy in progress
        state = "complete" if size == 3 else "incomplete"
        t.observe(p, Probe(size, size, state), now)
        for _path, probe in t.due(now):
            handed += 1
            assert now - last_change >= wait_needed(probe.state, 2.0, 10.0)
    assert handed <= changes  # once per version of the file


def test_move_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.fit").write_bytes(b"other")
    src = tmp_path / "a.fit"
    src.write_bytes(b"new")
    moved = move_no_clobber(src, dest)
    assert moved.name == "a-1.fit" and moved.read_bytes() == b"new"
    assert (dest / "a.fit").read_bytes() == b"other"
    assert not src.exists()


def test_move_of_bytes_already_there_keeps_one_copy(tmp_path: Path) -> None:
    import hashlib

    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.fit").write_bytes(b"same")
    src = tmp_path / "a.fit"
    src.write_bytes(b"same")
    moved = move_no_clobber(src, dest, sha256=hashlib.sha256(b"same").hexdigest())
    assert moved == dest / "a.fit" and not src.exists()
    assert sorted(p.name for p in dest.iterdir()) == ["a.fit"]


def test_archive_month_uses_the_athlete_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 23:30 UTC on 31 Oct is 00:30 on 1 Nov in Berlin (CET, after the DST change)
    assert archive_month(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), NOW, berlin) == "2026/11"
    assert archive_month(None, NOW, berlin) == "2026/11"


def test_ingest_and_file_archives_and_quarantines(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    good = inbox / "run.fit"
    shutil.copy(sample(sample_dir), good)
    (inbox / "kim").mkdir()
    kims = inbox / "kim" / "legs.fit"
    shutil.copy(sample(sample_dir, 1), kims)
    bad = inbox / "broken.fit"
    bad.write_bytes(b"definitely not a FIT file")
    taken, _ = scan_inbox(inbox, settings)
    run = ingest_and_file(settings, taken, now=NOW)
    assert run.counts() == {"stored": 2, "partial": 0, "duplicate": 0, "quarantined": 1}
    assert list(inbox.rglob("*.fit")) == []
    assert (settings.data_dir / "archive" / "2026" / "10" / "run.fit").read_bytes() == sample(
        sample_dir
    ).read_bytes()
    assert (settings.data_dir / "archive" / "2026" / "10" / "legs.fit").exists()
    q = settings.data_dir / "quarantine" / "broken.fit"
    assert q.read_bytes() == b"definitely not a FIT file"
    reason = (settings.data_dir / "quarantine" / "broken.fit.reason.txt").read_text()
    assert "status: quarantined" in reason and "reason_code: not_fit" in reason
    assert "sha256: " in reason and "when: 2026-11-02T12:00:00+00:00" in reason
    with st.open_store(settings.db_path, read_only=True) as s:
        assert s.rows("SELECT athlete_id, count(*) FROM activities GROUP BY 1 ORDER BY 1") == [
            ("kim", 1),
            ("sam", 1),
        ]


def test_crash_between_commit_and_move_loses_nothing(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    """The store committed, the move never happened: the restart archives the known bytes."""
    from pipeline.ingest import ingest_files

    f = inbox / "run.fit"
    shutil.copy(sample(sample_dir), f)
    ingest_files(settings.db_path, [(f, "sam")], now=NOW)  # ...and then the process died
    taken, _ = scan_inbox(inbox, settings)
    run = ingest_and_file(settings, taken, now=NOW)
    assert [fd.outcome.status for fd in run.filed] == ["duplicate"]
    assert run.filed[0].destination == settings.data_dir / "archive" / "2026" / "10" / "run.fit"
    assert not f.exists()


def test_a_second_copy_with_the_same_name_gets_a_suffix(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    shutil.copy(sample(sample_dir), inbox / "run.fit")
    ingest_and_file(settings, scan_inbox(inbox, settings)[0], now=NOW)
    shutil.copy(sample(sample_dir, 2), inbox / "run.fit")  # another activity, same name
    run = ingest_and_file(settings, scan_inbox(inbox, settings)[0], now=NOW)
    assert run.filed[0].destination is not None
    assert run.filed[0].destination.name == "run-1.fit"
    assert len(list((settings.data_dir / "archive").rglob("*.fit"))) == 2


def test_sweep_takes_only_files_ready_by_age(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    data = sample(sample_dir).read_bytes()
    (inbox / "whole.fit").write_bytes(data)
    (inbox / "half.fit").write_bytes(data[:500])
    ready, _ = sweep_inbox(inbox, settings, now=datetime.now(UTC), settle_s=0, stalled_s=60)
    assert [f.path.name for f in ready] == ["whole.fit"]


def _zip_of(target: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return target


def test_a_file_and_a_zip_holding_it_dropped_together(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    """Issue 10 (3, 4, 8): one stored copy, a duplicate, nothing quarantined, no leftovers."""
    a, c = sample(sample_dir, 0), sample(sample_dir, 1)
    shutil.copy(a, inbox / "a.fit")
    _zip_of(inbox / "b.zip", {"a.fit": a.read_bytes(), "c.fit": c.read_bytes()})
    run = ingest_and_file(settings, scan_inbox(inbox, settings)[0], now=NOW)
    by = {f.outcome.name: f for f in run.filed}
    assert {k: f.outcome.status for k, f in by.items()} == {
        "a.fit": "stored",
        "b.zip": "stored",
        "b.zip!a.fit": "duplicate",
        "b.zip!c.fit": "stored",
    }
    assert not (settings.data_dir / "quarantine").exists()
    assert list(inbox.iterdir()) == []
    archived = sorted((settings.data_dir / "archive").rglob("*.*"))
    assert [p.name for p in archived] == ["a.fit", "b.zip"]  # no extracted member among them
    month = settings.data_dir / "archive" / "2026" / "10"  # a.fit's activity month
    the_zip = by["b.zip"].destination
    assert archived[0] == month / "a.fit" and the_zip == archived[1]
    assert by["b.zip!c.fit"].destination == the_zip and by["b.zip!c.fit"].in_archive
    assert all(f.error is None for f in run.filed)
    # the extracted members are gone: not in <data_dir>/unpacked, not beside the store
    assert not (settings.data_dir / "unpacked").exists()
    assert not settings.unpack_root.exists()
    with st.open_store(settings.db_path, read_only=True) as s:
        held = dict(s.rows("SELECT original_name, status FROM files"))
        where = {r[0] for r in s.rows("SELECT path FROM file_sightings")}
    assert held == {"a.fit": "stored", "b.zip": "stored", "c.fit": "stored"}
    assert str(month / "a.fit") in where and f"{the_zip}!c.fit" in where


def test_zip_members_quarantined_or_renamed_are_told_as_they_are(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    """A broken member goes to quarantine with its reason; one with an unsafe name is stored
    and said to be stored (not "quarantined", not "refused", not "no longer in the inbox")."""
    good = sample(sample_dir, 2).read_bytes()
    _zip_of(inbox / "odd.zip", {"../../evil.fit": good, "broken.fit": b"not a FIT file" * 10})
    run = ingest_and_file(settings, scan_inbox(inbox, settings)[0], now=NOW)
    by = {f.outcome.name: f for f in run.filed}
    assert {k: (f.outcome.status, f.outcome.reason_code) for k, f in by.items()} == {
        "odd.zip!evil.fit": ("stored", None),
        "odd.zip!broken.fit": ("quarantined", "not_fit"),
        "odd.zip": ("stored", None),
    }
    assert all(f.error is None for f in run.filed)
    zip_message = by["odd.zip"].outcome.message or ""
    assert "not taken" not in zip_message and "refused" not in zip_message
    assert "zip_unsafe_name" in zip_message
    q = settings.data_dir / "quarantine"
    assert (q / "broken.fit").read_bytes() == b"not a FIT file" * 10
    assert "file: odd.zip!broken.fit" in (q / "broken.fit.reason.txt").read_text()
    assert run.counts() == {"stored": 2, "partial": 0, "duplicate": 0, "quarantined": 1}
    with st.open_store(settings.db_path, read_only=True) as s:
        held = sorted(s.rows("SELECT original_name, status FROM files"))
    assert held == [("broken.fit", "quarantined"), ("evil.fit", "stored"), ("odd.zip", "stored")]


def test_a_zip_with_a_member_that_cannot_be_taken_is_partial(
    inbox: Path, settings: Settings, sample_dir: Path
) -> None:
    """A symlink member is not taken: the zip is partial (stored, with what was lost), and no
    outcome is counted that `files` does not hold."""
    import stat
    import zipfile

    target = inbox / "locked.zip"
    _zip_of(target, {"ok.fit": sample(sample_dir, 3).read_bytes()})
    with zipfile.ZipFile(target, "a") as zf:
        link = zipfile.ZipInfo("secret.fit")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    run = ingest_and_file(settings, scan_inbox(inbox, settings)[0], now=NOW)
    by = {f.outcome.name: f.outcome for f in run.filed}
    assert set(by) == {"locked.zip!ok.fit", "locked.zip"}
    assert (by["locked.zip"].status, by["locked.zip"].reason_code) == (
        "partial",
        "zip_unsafe_member",
    )
    assert "secret.fit" in (by["locked.zip"].message or "")
    with st.open_store(settings.db_path, read_only=True) as s:
        held = dict(s.rows("SELECT original_name, status FROM files"))
    assert held == {"ok.fit": "stored", "locked.zip": "partial"}
    assert run.counts() == {"stored": 1, "partial": 1, "duplicate": 0, "quarantined": 0}


def test_the_report_tells_quarantined_from_partial_as_files_holds_them(
    inbox: Path, settings: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    """Issue 10 (4): a partial file (stored, archived) is not listed as quarantined; the
    quarantined one says where it is now; the counts are those of `files`."""
    import json
    from datetime import date

    from pipeline.derive import refresh as analysis
    from pipeline.report import produce

    shutil.copy(sample(sample_dir, 0), inbox / "good.fit")
    data = sample(sample_dir, 2).read_bytes()
    (inbox / "cut.fit").write_bytes(data[: len(data) * 2 // 3])
    (inbox / "broken.fit").write_bytes(b"definitely not a FIT file")
    run = ingest_and_file(settings, scan_inbox(inbox, settings)[0], now=NOW)
    assert run.counts() == {"stored": 1, "partial": 1, "duplicate": 0, "quarantined": 1}
    analysis.refresh_store(settings, now=NOW)
    produced = produce.produce_report(
        settings, "sam", date(2026, 11, 2), generated_at=NOW, out_dir=tmp_path / "reports"
    )
    with st.open_store(settings.db_path, read_only=True) as s:
        held = dict(s.rows("SELECT original_name, status FROM files"))
    report = json.loads(produced.rendered["json"])
    assert [q["file"] for q in report["quarantined"]] == ["broken.fit"]
    assert [q["file"] for q in report["partial"]] == ["cut.fit"]
    assert held == {"good.fit": "stored", "cut.fit": "partial", "broken.fit": "quarantined"}
    assert report["quarantined"][0]["location"] == str(
        settings.data_dir / "quarantine" / "broken.fit"
    )
    md = produced.rendered["md"]
    assert "## Files to look at (2)" in md and "Quarantined files" not in md
    quarantined_part = md.split("### Quarantined: not stored (1)")[1].split("###")[0]
    assert "broken.fit" in quarantined_part and "cut.fit" not in quarantined_part
    partial_part = md.split("### Partial: stored, with something lost (1)")[1]
    assert "`cut.fit`: truncated" in partial_part
    html = produced.rendered["html"]
    assert "<h3>Quarantined: not stored (1)</h3>" in html
    assert "<h3>Partial: stored, with something lost (1)</h3>" in html
