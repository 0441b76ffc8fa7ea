"""Zip archives: Garmin exports expand to their FIT files; hostile zips are refused or defused."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.fit import parse_fit
from pipeline.ingest.archives import ArchiveLimits, expand_archive, safe_member_name
from tests.fuzzing import SAMPLE_DATA

FITS = sorted(SAMPLE_DATA.glob("*.fit"))
LIMITS = ArchiveLimits()


def zip_bytes(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def garmin_export(path: Path) -> list[str]:
    """An export shaped like Garmin's: JSON beside zips of FIT files, one level of nesting."""
    part1 = zip_bytes({f"user_{i}_{p.name}": p.read_bytes() for i, p in enumerate(FITS[:5])})
    part2 = zip_bytes({p.name: p.read_bytes() for p in FITS[5:8]})
    path.write_bytes(
        zip_bytes(
            {
                "DI_CONNECT/DI-Connect-User/user_profile.json": b'{"name": "Sam"}',
                "DI_CONNECT/DI-Connect-Fitness/summarizedActivities.json": b"[]" * 1000,
                "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip": part1,
                "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part2.zip": part2,
            }
        )
    )
    return [p.name for p in FITS[:8]]


def only_inside(dest: Path, root: Path) -> None:
    """Nothing was written anywhere under ``root`` except inside ``dest``."""
    for p in root.rglob("*"):
        if p.is_file() and not p.is_relative_to(dest):
            assert p.name.endswith(".zip"), f"{p} was written outside {dest}"


def test_a_garmin_export_expands_to_its_fit_files(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    names = garmin_export(archive)
    dest = tmp_path / "out"
    res = expand_archive(archive, dest, limits=LIMITS)
    assert not res.refused and res.problems == []
    assert len(res.extracted) == len(names) == 8
    assert all(p.parent == dest and p.suffix == ".fit" for p in res.extracted)
    assert sorted(p.read_bytes() for p in res.extracted) == sorted(p.read_bytes() for p in FITS[:8])
    assert all(parse_fit(p.read_bytes()).status == "stored" for p in res.extracted)
    # The export's summary file is taken (issue 12), the other JSON file is not.
    assert len(res.skipped) == 1 and [s.path.name for s in res.summaries] == [
        "summarizedActivities.json"
    ]
    assert res.summaries[0].path.parent == dest / "summaries"
    assert sorted(p.name for p in dest.iterdir() if p.is_file()) == sorted(
        p.name for p in res.extracted
    )
    assert res.bytes_extracted == sum(p.stat().st_size for p in FITS[:8])


def test_traversal_absolute_and_odd_names_stay_inside_dest(tmp_path: Path) -> None:
    data = FITS[0].read_bytes()
    archive = tmp_path / "evil.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "../../escaped.fit": data,
                "/etc/absolute.fit": data + b"\0",
                "C:\\Windows\\drive.fit": data + b"\0\0",
                "a/b/-rf.fit": data + b"\0\0\0",
                ".hidden.fit": data + b"\0\0\0\0",
                "same.fit": data,
                "x/same.fit": data,
                ("é" * 150) + ".fit": data,
            }
        )
    )
    dest = tmp_path / "deep" / "dest"
    res = expand_archive(archive, dest, limits=LIMITS)
    only_inside(dest, tmp_path)
    names = sorted(p.name for p in res.extracted)
    assert len(names) == 8 and len(set(names)) == 8
    assert all(p.parent == dest for p in res.extracted)
    assert all(not n.startswith((".", "-")) and len(n.encode()) <= 255 for n in names)
    assert {"escaped.fit", "absolute.fit", "drive.fit", "rf.fit", "same.fit", "same-2.fit"} <= set(
        names
    )
    unsafe = {p.member.split("!", 1)[1] for p in res.problems if p.reason_code == "zip_unsafe_name"}
    assert unsafe == {"../../escaped.fit", "/etc/absolute.fit", "C:\\Windows\\drive.fit"}


def test_symlink_members_are_skipped_and_planted_links_not_followed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("link.fit")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("real.fit", FITS[0].read_bytes())
    archive = tmp_path / "links.zip"
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (dest / "real.fit").symlink_to(outside)  # planted: extraction must not write through it
    res = expand_archive(archive, dest, limits=LIMITS)
    assert outside.read_text() == "keep me"
    assert [p.name for p in res.extracted] == ["real-2.fit"]
    assert not res.extracted[0].is_symlink()
    assert [p.reason_code for p in res.problems] == ["zip_unsafe_member"]


def test_a_deflate_bomb_is_refused_while_streaming(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(zip_bytes({"a.fit": FITS[0].read_bytes(), "bomb.fit": b"\0" * 50_000_000}))
    res = expand_archive(archive, tmp_path / "dest", limits=LIMITS)
    assert res.refused and res.extracted == []
    assert [p.reason_code for p in res.problems] == ["zip_bomb"]
    assert list((tmp_path / "dest").iterdir()) == []


def _lie_about_sizes(data: bytes, declared: int) -> bytes:
    """Rewrite every declared uncompressed size (local headers and central directory)."""
    out = bytearray(data)
    i = 0
    while (i := out.find(b"PK\x03\x04", i)) != -1:
        struct.pack_into("<I", out, i + 22, declared)
        i += 4
    i = 0
    while (i := out.find(b"PK\x01\x02", i)) != -1:
        struct.pack_into("<I", out, i + 24, declared)
        i += 4
    return bytes(out)


def test_declared_sizes_are_not_trusted(tmp_path: Path) -> None:
    """A header that says 1 KB for 20 MB of zeros: the real bytes are counted and refused."""
    small = ArchiveLimits(max_total_bytes=5_000_000, max_member_bytes=5_000_000)
    archive = tmp_path / "liar.zip"
    archive.write_bytes(_lie_about_sizes(zip_bytes({"z.fit": b"\0" * 20_000_000}), 1000))
    res = expand_archive(archive, tmp_path / "dest", limits=small)
    assert res.extracted == []
    assert res.refused or [p.reason_code for p in res.problems] == ["zip_corrupt"]
    assert all(p.stat().st_size <= 5_000_000 for p in (tmp_path / "dest").rglob("*"))


def test_member_count_total_and_depth_limits(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    many.write_bytes(zip_bytes({f"{i}.fit": b"x" for i in range(50)}))
    res = expand_archive(many, tmp_path / "d1", limits=ArchiveLimits(max_members=20))
    assert res.refused and res.problems[-1].reason_code == "zip_bomb"

    total = tmp_path / "total.zip"
    total.write_bytes(zip_bytes({p.name: p.read_bytes() for p in FITS}))
    res = expand_archive(total, tmp_path / "d2", limits=ArchiveLimits(max_total_bytes=200_000))
    assert res.refused and res.problems[-1].reason_code == "zip_bomb"
    assert list((tmp_path / "d2").iterdir()) == []

    inner = zip_bytes({"deep.fit": FITS[0].read_bytes()})
    for level in range(4):
        inner = zip_bytes({f"level{level}.zip": inner})
    nested = tmp_path / "nested.zip"
    nested.write_bytes(inner)
    res = expand_archive(nested, tmp_path / "d3", limits=ArchiveLimits(max_depth=3))
    assert res.refused and res.problems[-1].reason_code == "zip_too_deep"
    res = expand_archive(nested, tmp_path / "d4", limits=ArchiveLimits(max_depth=5))
    assert [p.name for p in res.extracted] == ["deep.fit"]


def test_corrupt_archives_and_members(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    res = expand_archive(junk, tmp_path / "d1", limits=LIMITS)
    assert res.refused and res.problems[0].reason_code == "zip_corrupt"

    good = zip_bytes({"a.fit": FITS[0].read_bytes(), "b.fit": FITS[1].read_bytes()})
    bad = bytearray(good)
    at = bad.find(b"PK\x03\x04", 10) - 40  # a byte inside the first member's compressed data
    bad[at] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(bad))
    res = expand_archive(damaged, tmp_path / "d2", limits=LIMITS)
    assert [p.name for p in res.extracted] == ["b.fit"]
    assert [p.reason_code for p in res.problems] == ["zip_corrupt"]
    assert sorted(p.name for p in (tmp_path / "d2").iterdir()) == ["b.fit"]

    outer = tmp_path / "outer.zip"
    outer.write_bytes(zip_bytes({"bad.zip": b"garbage", "c.fit": FITS[2].read_bytes()}))
    res = expand_archive(outer, tmp_path / "d3", limits=LIMITS)
    assert [p.name for p in res.extracted] == ["c.fit"]
    assert [p.reason_code for p in res.problems] == ["zip_corrupt"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(min_value=0))
def test_damaged_zips_never_raise_and_never_escape(tmp_path: Path, cut: int, flip: int) -> None:
    data = bytearray(
        zip_bytes({"x/a.fit": FITS[0].read_bytes()[:3000], "b.zip": zip_bytes({"c.fit": b"12"})})
    )
    data = data[: max(1, len(data) - cut % len(data))]
    data[flip % len(data)] ^= 0x5A
    case = tmp_path / f"case{cut}-{flip}"
    case.mkdir()
    (case / "a.zip").write_bytes(bytes(data))
    res = expand_archive(case / "a.zip", case / "dest", limits=LIMITS)
    only_inside(case / "dest", case)
    assert all(p.parent == case / "dest" and p.is_file() for p in res.extracted)
    if res.refused:
        assert res.extracted == [] and res.problems


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.fit", "x.fit"),
        ("-rf.fit", "rf.fit"),
        (".fit", "fit.fit"),
        ("a\x00b\nc.fit", "abc.fit"),
        ("", "member"),
    ],
)
def test_safe_member_name(name: str, expected: str) -> None:
    assert safe_member_name(name) == expected
