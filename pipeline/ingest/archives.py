"""Zip archives in, FIT files out: Garmin exports and zipped uploads, without trusting the zip.

A Garmin Connect export is a zip holding zips of FIT files
(``DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip`` → ``*.fit``), so
``expand_archive`` extracts the FIT members of an archive, and of the archives inside it, into
one flat folder under safe names. A zip comes from outside and may be hostile, so:

- member names are never used as paths: only a cleaned last component is kept (no ``..``, no
  absolute path, no drive, no control character, no leading dot or dash), and a file is created
  with ``O_EXCL`` so nothing already in ``dest`` (a planted symlink included) is followed or
  overwritten;
- symlink members and encrypted members are skipped, with a problem;
- bytes are counted while they are decompressed, never taken from the header's declared sizes
  alone: the total, each member and each member's compression ratio have limits, and so have
  the member count and the nesting depth. An archive over a limit is refused as a whole
  (``zip_bomb``, ``zip_too_deep`` for nesting) and what it had extracted is removed;
- an archive that cannot be read is ``zip_corrupt``; a nested one that cannot be read does not
  stop its siblings.

A Strava bulk export keeps its FIT files gzipped (``activities/123.fit.gz``): such members, and a
``.fit.gz`` file given on its own, are gunzipped under the same limits (``123.fit``). The summary
files of an export (Garmin ``*_summarizedActivities.json``, Strava ``activities.csv``, recognised
by ``pipeline.exports.layout``) are extracted too, into ``ArchiveResult.summaries``; every
extracted file keeps the name it had inside its archive (``ArchiveResult.inner``), so that a
Strava row's ``Filename`` finds the FIT file it belongs to.

Reason codes (``ArchiveProblem.reason_code``): ``zip_bomb``, ``zip_too_deep``, ``zip_corrupt``,
``zip_unsafe_member`` (symlink or special member, skipped), ``zip_unsafe_name`` (a traversal or
absolute name, extracted under a safe name: ``lost=False``), ``zip_encrypted``; ``gzip_corrupt``
for a ``.fit.gz`` that cannot be gunzipped.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipeline.exports.layout import MemberRole, find_export_members
from pipeline.exports.types import ExportSource

__all__ = [
    "ARCHIVE_SUFFIXES",
    "ArchiveLimits",
    "ArchiveProblem",
    "ArchiveResult",
    "ExtractedSummary",
    "InnerName",
    "expand_archive",
    "is_archive",
]

ARCHIVE_SUFFIXES = (".zip",)
FIT_MEMBER_SUFFIXES = (".fit",)
GZIP_SUFFIXES = (".fit.gz",)
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
_NAME_MAX_BYTES = 200  # below 255 so that a "-2" collision suffix and ".part" still fit


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one archive (its nested archives included) may expand to."""

    max_total_bytes: int = 4_000_000_000  # all decompressed bytes of one top-level archive
    max_member_bytes: int = 200_000_000  # one member (the largest real FIT files are ~10 MB)
    max_members: int = 200_000  # central-directory entries, all levels together
    max_ratio: float = 100.0  # decompressed / compressed bytes of one member
    ratio_floor_bytes: int = 1_000_000  # tiny members compress oddly: ratio applies above this
    max_depth: int = 3  # zips inside zips; a Garmin export needs 1


@dataclass(frozen=True)
class ArchiveProblem:
    """Something about one archive or member; ``member`` is a ``!``-joined path inside it.

    ``lost`` says whether the member was left out (True) or extracted all the same, under a
    safe name (False: ``zip_unsafe_name``), so that no caller reports a taken file as refused.
    """

    member: str
    reason_code: str
    message: str
    lost: bool = True


@dataclass(frozen=True)
class InnerName:
    """Where an extracted file was: the archive holding it (``!``-joined label) and its name there."""

    archive: str
    name: str


@dataclass(frozen=True)
class ExtractedSummary:
    """An export summary file extracted from an archive, and which export it belongs to."""

    path: Path
    source: ExportSource
    inner: InnerName


@dataclass
class ArchiveResult:
    """The FIT files extracted (paths in ``dest``), the problems, and the non-FIT members skipped."""

    extracted: list[Path] = field(default_factory=list)
    summaries: list[ExtractedSummary] = field(default_factory=list)
    #: Extracted path -> its place inside the archive (FIT files; summaries carry their own).
    inner: dict[Path, InnerName] = field(default_factory=dict)
    problems: list[ArchiveProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: bool = False  # the whole archive was refused: nothing of it is left in ``dest``
    bytes_extracted: int = 0


class _Refused(Exception):
    def __init__(self, code: str, member: str, message: str) -> None:
        super().__init__(message)
        self.code, self.member, self.message = code, member, message


@dataclass
class _Budget:
    limits: ArchiveLimits
    total: int = 0
    members: int = 0


def is_archive(path: Path) -> bool:
    """True for a file whose name says zip or ``.fit.gz`` (the content is checked by
    ``expand_archive``)."""
    lower = path.name.lower()
    return path.suffix.lower() in ARCHIVE_SUFFIXES or lower.endswith(GZIP_SUFFIXES)


def _gunzipped_name(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def safe_member_name(name: str) -> str:
    """A file name for a member that cannot leave the folder nor hide or look like an option."""
    last = re.split(r"[/\\]", name)[-1]
    last = "".join(ch for ch in last if unicodedata.category(ch)[0] != "C" and ch != ":")
    last = last.strip().lstrip(".-").strip() or "member"
    for suffix in FIT_MEMBER_SUFFIXES + ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix) and not last.lower().endswith(suffix):
            last += suffix
    raw = last.encode("utf-8")
    if len(raw) > _NAME_MAX_BYTES:
        _stem, dot, suffix = last.rpartition(".")
        keep = suffix if dot and len(suffix) <= 10 else ""
        cut = raw[: _NAME_MAX_BYTES - len(keep) - 1].decode("utf-8", "ignore")
        last = f"{cut}.{keep}" if keep else cut
    return last


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """A Unix symlink or special file (many zips set no file type: those are plain files)."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    return info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR)


def _unsafe_name(name: str) -> bool:
    parts = re.split(r"[/\\]", name)
    return (
        name.startswith(("/", "\\"))
        or bool(re.match(r"^[A-Za-z]:", name))
        or any(p == ".." for p in parts)
    )


def _create(dest: Path, name: str) -> tuple[Path, IO[bytes]]:
    """Open a new file in ``dest`` named ``name`` (or ``stem-2.ext``...), never following links."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    for i in range(1, 100_000):
        candidate = name if i == 1 else f"{stem}-{i}{'.' + suffix if suffix else ''}"
        path = dest / candidate
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0))
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "wb")
    raise OSError(f"too many members named {name} in {dest}")


def _stream(
    src: IO[bytes] | gzip.GzipFile, compressed: int, out: IO[bytes], budget: _Budget, where: str
) -> int:
    """Copy one member, counting what is decompressed against the limits as it comes."""
    lim = budget.limits
    allowed_by_ratio = max(lim.ratio_floor_bytes, int(lim.max_ratio * max(1, compressed)))
    n = 0
    with src:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                return n
            n += len(chunk)
            budget.total += len(chunk)
            if n > lim.max_member_bytes:
                raise _Refused(
                    "zip_bomb", where, f"a member expands past {lim.max_member_bytes:,} bytes"
                )
            if n > allowed_by_ratio:
                raise _Refused(
                    "zip_bomb",
                    where,
                    f"a member expands more than {lim.max_ratio:g} times its compressed size "
                    f"({compressed:,} bytes)",
                )
            if budget.total > lim.max_total_bytes:
                raise _Refused(
                    "zip_bomb", where, f"the archive expands past {lim.max_total_bytes:,} bytes"
                )
            out.write(chunk)


def _expand(
    source: Path,
    dest: Path,
    scratch: Path,
    result: ArchiveResult,
    budget: _Budget,
    depth: int,
    label: str,
) -> None:
    lim = budget.limits
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        if depth == 0:
            raise _Refused("zip_corrupt", label, f"not a readable zip archive ({exc})") from exc
        result.problems.append(
            ArchiveProblem(
                label, "zip_corrupt", f"a nested archive cannot be read ({exc}); skipped"
            )
        )
        return
    with zf:
        infos = zf.infolist()
        # The summary files of a Garmin or Strava export, told by where they sit in it.
        summary_of = {
            m.name: m.source
            for m in find_export_members([i.filename for i in infos]).members
            if m.role is MemberRole.SUMMARY
        }
        budget.members += len(infos)
        if budget.members > lim.max_members:
            raise _Refused("zip_bomb", label, f"more than {lim.max_members:,} members")
        declared = sum(i.file_size for i in infos if not i.is_dir())
        # Declared sizes may lie low (reading enforces the real ones), but one that already says
        # too much is refused before anything is written.
        if budget.total + declared > lim.max_total_bytes:
            raise _Refused(
                "zip_bomb", label, f"the archive declares {declared:,} bytes once expanded"
            )
        for info in infos:
            where = f"{label}!{info.filename}"
            if info.is_dir():
                continue
            if _is_symlink(info):
                result.problems.append(
                    ArchiveProblem(
                        where, "zip_unsafe_member", "a symlink or special member; skipped"
                    )
                )
                continue
            lower = info.filename.lower()
            nested = lower.endswith(ARCHIVE_SUFFIXES)
            gz = lower.endswith(GZIP_SUFFIXES)
            summary = summary_of.get(info.filename)
            if not (nested or gz or summary or lower.endswith(FIT_MEMBER_SUFFIXES)):
                result.skipped.append(where)
                continue
            if info.flag_bits & 0x1:
                result.problems.append(
                    ArchiveProblem(where, "zip_encrypted", "an encrypted member; skipped")
                )
                continue
            if nested and depth + 1 > lim.max_depth:
                raise _Refused(
                    "zip_too_deep",
                    where,
                    f"archives nested more than {lim.max_depth} deep (a Garmin export needs 1)",
                )
            name = safe_member_name(_gunzipped_name(info.filename) if gz else info.filename)
            if _unsafe_name(info.filename):
                result.problems.append(
                    ArchiveProblem(
                        where,
                        "zip_unsafe_name",
                        f"a name that points outside; taken as {name}",
                        lost=False,
                    )
                )
            folder = scratch if nested else (dest / "summaries" if summary else dest)
            folder.mkdir(exist_ok=True)
            target, fh = _create(folder, name)
            try:
                with fh:
                    raw = zf.open(info)
                    src = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
                    size = _stream(src, info.compress_size, fh, budget, where)
            except _Refused:
                target.unlink(missing_ok=True)
                raise
            except gzip.BadGzipFile as exc:  # an OSError, but the member's fault, not the disk's
                target.unlink(missing_ok=True)
                result.problems.append(
                    ArchiveProblem(where, "gzip_corrupt", f"cannot be gunzipped ({exc}); skipped")
                )
                continue
            except OSError:
                target.unlink(missing_ok=True)
                raise  # a full disk or a permission problem is not the archive's fault
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                target.unlink(missing_ok=True)
                result.problems.append(
                    ArchiveProblem(
                        where, "zip_corrupt", f"the member cannot be read ({exc}); skipped"
                    )
                )
                continue
            if nested:
                try:
                    _expand(target, dest, scratch, result, budget, depth + 1, where)
                finally:
                    target.unlink(missing_ok=True)
            elif summary is not None:
                result.summaries.append(
                    ExtractedSummary(target, summary, InnerName(label, info.filename))
                )
            else:
                result.extracted.append(target)
                result.inner[target] = InnerName(label, info.filename)
                result.bytes_extracted += size


def _expand_gzip(source: Path, dest: Path, result: ArchiveResult, budget: _Budget) -> None:
    """A ``.fit.gz`` file on its own (a Strava export unpacked): one FIT file out."""
    name = safe_member_name(_gunzipped_name(source.name))
    target, fh = _create(dest, name)
    try:
        with fh:
            size = _stream(
                gzip.GzipFile(source, mode="rb"), source.stat().st_size, fh, budget, source.name
            )
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        target.unlink(missing_ok=True)
        raise _Refused("gzip_corrupt", source.name, f"cannot be gunzipped ({exc})") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    result.extracted.append(target)
    result.inner[target] = InnerName(source.name, _gunzipped_name(source.name))
    result.bytes_extracted += size


def expand_archive(path: Path, dest: Path, *, limits: ArchiveLimits) -> ArchiveResult:
    """Extract the FIT files of a zip (and of zips inside it) into ``dest`` under safe names.

    Never raises for a bad archive: a refused one gives ``refused=True``, a problem with its
    reason code and no file left in ``dest``. ``OSError`` of ``dest`` itself (full disk,
    permissions) propagates, with what was extracted removed, so a caller can keep the archive.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    result = ArchiveResult()
    budget = _Budget(limits)
    scratch = Path(tempfile.mkdtemp(prefix=".legday-unzip-", dir=dest))
    try:
        if _is_gzip(Path(path)):
            _expand_gzip(Path(path), dest, result, budget)
        else:
            _expand(Path(path), dest, scratch, result, budget, 0, Path(path).name)
    except _Refused as refusal:
        _remove(result.extracted + [x.path for x in result.summaries])
        result.extracted, result.bytes_extracted, result.refused = [], 0, True
        result.summaries, result.inner = [], {}
        result.problems.append(
            ArchiveProblem(
                refusal.member,
                refusal.code,
                f"{Path(path).name} was refused: {refusal.message}; nothing of it was extracted",
            )
        )
    except BaseException:
        _remove(result.extracted + [x.path for x in result.summaries])
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _is_gzip(path: Path) -> bool:
    """A ``.fit.gz`` by its name, or a gzip stream by its first bytes (a zip starts ``PK``)."""
    if path.name.lower().endswith(".gz"):
        return True
    with path.open("rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def _remove(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
