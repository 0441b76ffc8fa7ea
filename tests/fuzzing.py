"""Mutations of real FIT files, shared by ``tests/test_fuzz.py`` and ``scripts/fuzz.py``.

Each mutation takes the bytes of a sound file and a seeded ``random.Random`` and returns broken
bytes of one kind (truncated, flipped, padded with garbage, with a lying header, with a corrupted
definition message...). Where a mutation would otherwise be caught by the CRC alone, it re-seals
the CRCs half of the time, so that the damage reaches the decoder and not only the CRC check.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
import signal
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
CORPUS_FILES = ROOT.parent / "shared" / "fit-corpus" / "files"

#: "now" of every fuzz parse: fixed, so outcomes do not depend on the day the fuzzer runs.
FUZZ_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

#: Outcomes a file may end with.
OUTCOMES = ("stored", "partial", "quarantined", "duplicate")


def time_bound_s(size: int) -> float:
    """Time one mutated file may take to parse: 10 s, plus 10 s per MB (~2.5x the clean rate)."""
    return 10.0 + 10.0 * size / 1_000_000


# -- CRC and the record walk ---------------------------------------------------------------

_CRC_TABLE = [0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
              0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400]  # fmt: skip


def fit_crc(data: bytes, crc: int = 0) -> int:
    """CRC-16 of the FIT protocol (nibble table of the FIT SDK)."""
    for byte in data:
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[byte & 0xF]
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[(byte >> 4) & 0xF]
    return crc


def reseal(data: bytes) -> bytes:
    """Recompute the header CRC (14-byte headers) and the file CRC of the first chunk."""
    if len(data) < 14 or data[8:12] != b".FIT":
        return data
    out = bytearray(data)
    hsize = out[0]
    if hsize >= 14 and len(out) >= 14:
        struct.pack_into("<H", out, 12, fit_crc(bytes(out[:12])))
    end = hsize + struct.unpack_from("<I", out, 4)[0]
    if 0 < end <= len(out) - 2:
        struct.pack_into("<H", out, end, fit_crc(bytes(out[:end])))
    return bytes(out)


def definition_offsets(data: bytes) -> list[int]:
    """Byte offsets of the definition messages of the first chunk (stops at the first oddity)."""
    if len(data) < 12 or data[8:12] != b".FIT":
        return []
    hsize = data[0]
    end = min(len(data) - 2, hsize + struct.unpack_from("<I", data, 4)[0])
    sizes: dict[int, int] = {}
    found: list[int] = []
    pos = hsize
    while pos < end:
        head = data[pos]
        if head & 0x80:  # compressed-timestamp data message
            size = sizes.get((head >> 5) & 0x3)
            if size is None:
                break
            pos += 1 + size
        elif head & 0x40:  # definition message
            if pos + 6 > end:
                break
            found.append(pos)
            n_fields = data[pos + 5]
            length = 6 + 3 * n_fields
            if pos + length > end:
                break
            size = sum(data[pos + 6 + 3 * i + 1] for i in range(n_fields))
            if head & 0x20:
                n_dev = data[pos + length]
                size += sum(data[pos + length + 1 + 3 * i + 1] for i in range(n_dev))
                length += 1 + 3 * n_dev
            sizes[head & 0xF] = size
            pos += length
        else:
            size = sizes.get(head & 0xF)
            if size is None:
                break
            pos += 1 + size
    return found


# -- mutations ------------------------------------------------------------------------------


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 16, 64])):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else 0xFF
    return reseal(bytes(out)) if rng.random() < 0.5 else bytes(out)


def insert_garbage(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(0, len(data) + 1)
    junk = rng.randbytes(rng.choice([1, 7, 64, 1024]))
    if rng.random() < 0.3:
        return data + junk  # trailing garbage after the last chunk
    return (
        reseal(data[:at] + junk + data[at:]) if rng.random() < 0.5 else data[:at] + junk + data[at:]
    )


def zero_length(data: bytes, rng: random.Random) -> bytes:
    return b""


def huge_header_size(data: bytes, rng: random.Random) -> bytes:
    """The header declares far more data than the file holds (up to 4 GB)."""
    out = bytearray(data[:] if len(data) >= 14 else data.ljust(14, b"\0"))
    struct.pack_into("<I", out, 4, rng.choice([0xFFFFFFFF, 0x7FFFFFFF, len(out) * 1000, 1 << 30]))
    if out[0] >= 14:
        struct.pack_into("<H", out, 12, fit_crc(bytes(out[:12])))
    return bytes(out)


def random_bytes(data: bytes, rng: random.Random) -> bytes:
    """Noise, half of the time behind a sound FIT header that declares its length."""
    body = rng.randbytes(rng.choice([1, 13, 100, 4096, 65536]))
    if rng.random() < 0.5:
        head = bytearray(struct.pack("<BBHI4sH", 14, 0x20, 2194, len(body), b".FIT", 0))
        struct.pack_into("<H", head, 12, fit_crc(bytes(head[:12])))
        whole = bytes(head) + body
        return whole + struct.pack("<H", fit_crc(whole))
    return body


def duplicate_chunk(data: bytes, rng: random.Random) -> bytes:
    """A slice of the file repeated, in place or at the end (copy tools and resumes do this)."""
    if len(data) < 2:
        return data + data
    a = rng.randrange(0, len(data) - 1)
    b = rng.randrange(a + 1, min(len(data), a + 1 + rng.choice([16, 256, 4096, len(data)])) + 1)
    chunk = data[a:b]
    if rng.random() < 0.3:
        return data + data  # a whole second chained copy
    out = data[:b] + chunk * rng.choice([1, 2, 5]) + data[b:]
    return reseal(out) if rng.random() < 0.5 else out


def corrupt_definition(data: bytes, rng: random.Random) -> bytes:
    """Change a definition message: field count, sizes, base types, message number, local id."""
    offsets = definition_offsets(data)
    if not offsets:
        return flip_bytes(data, rng)
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 3])):
        pos = rng.choice(offsets)
        n_fields = out[pos + 5]
        what = rng.randrange(6)
        if what == 0:
            out[pos + 5] = rng.randrange(256)  # field count
        elif what == 1 and n_fields:
            out[pos + 6 + 3 * rng.randrange(n_fields) + 1] = rng.choice([0, 1, 3, 255, 254])
        elif what == 2 and n_fields:
            out[pos + 6 + 3 * rng.randrange(n_fields) + 2] = rng.randrange(256)  # base type
        elif what == 3:
            struct.pack_into("<H", out, pos + 3, rng.randrange(65536))  # global message number
        elif what == 4:
            out[pos] = 0x40 | rng.randrange(32)  # local id, developer-data bit
        else:
            out[pos + 2] = rng.randrange(256)  # architecture (endianness) byte
    return reseal(bytes(out)) if rng.random() < 0.7 else bytes(out)


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": truncate,
    "flip_bytes": flip_bytes,
    "insert_garbage": insert_garbage,
    "zero_length": zero_length,
    "huge_header_size": huge_header_size,
    "random_bytes": random_bytes,
    "duplicate_chunk": duplicate_chunk,
    "corrupt_definition": corrupt_definition,
}


@dataclass(frozen=True)
class Case:
    """One mutated file: which seed file, which mutation, and the bytes."""

    index: int
    source: str
    mutation: str
    data: bytes

    @property
    def name(self) -> str:
        return f"case{self.index:05d}-{self.mutation}-{Path(self.source).stem[:60]}.fit"


def seed_files(corpus: Path | None, *, max_bytes: int) -> list[Path]:
    """Sound seed files: the sample data and corpus files up to ``max_bytes`` (sorted)."""
    found = sorted(SAMPLE_DATA.glob("*.fit"))
    if corpus is not None and corpus.is_dir():
        found += sorted(p for p in corpus.glob("*.fit") if p.stat().st_size <= max_bytes)
    return found


def make_cases(seeds: Sequence[Path], n: int, seed: int) -> Iterator[Case]:
    """``n`` cases, cycling through every mutation kind, from seed files drawn with ``seed``."""
    rng = random.Random(seed)
    kinds = list(MUTATIONS)
    blobs: dict[Path, bytes] = {}
    for i in range(n):
        src = rng.choice(list(seeds))
        if src not in blobs:
            blobs[src] = src.read_bytes()
        kind = kinds[i % len(kinds)]
        yield Case(i, src.name, kind, MUTATIONS[kind](blobs[src], random.Random(rng.random())))


# -- a deadline for in-process parses -------------------------------------------------------


class DeadlineExceeded(BaseException):
    """Raised by ``deadline``; a BaseException so that ``parse_fit``'s catch-all cannot eat it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread, POSIX): a hang fails, never blocks."""

    def fire(_sig: int, _frame: Any) -> None:
        raise DeadlineExceeded(f"still running after {seconds:.1f} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass(frozen=True)
class Outcome:
    """What ``parse_fit`` made of one case, and how long it took."""

    status: str
    reason: str | None
    warnings: tuple[str, ...]
    seconds: float
    internal_error: str | None  # parse_fit's catch-all fired: an exception of ours, not the file's


def parse_case(data: bytes) -> Outcome:
    """Parse one case in this process, timed (the caller bounds it with ``deadline``)."""
    from pipeline.fit import enable_fast_decode, parse_fit

    enable_fast_decode()  # as a parser process runs it
    started = time.perf_counter()
    parsed = parse_fit(data, now=FUZZ_NOW)
    took = time.perf_counter() - started
    reason = parsed.reason.code if parsed.reason else None
    internal = (
        parsed.reason.message
        if parsed.reason and parsed.reason.message.startswith("legday could not decode")
        else None
    )
    return Outcome(parsed.status, reason, tuple(w.code for w in parsed.warnings), took, internal)
