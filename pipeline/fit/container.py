"""The FIT container: headers, chained chunks and their CRC, on plain bytes. No I/O, no fitparse.

A FIT file is one or more chunks (header + data + CRC-16) written back to back. These functions
tell where the chunks are, whether a byte string is a whole file yet (the inbox asks while a file
is still being copied) and whether a chunk's CRC holds. ``parse`` checks every CRC here once, so
fitparse itself runs with ``check_crc=False``.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Chain", "bad_crc_chunks", "fit_crc", "fit_declared_length", "fit_is_complete", "walk"]

_HEADER = struct.Struct("<BBHI4s")

#: What follows the last whole chunk: nothing, zero padding, non-FIT bytes, or a cut chunk.
Tail = Literal["none", "zeros", "garbage", "truncated"]


def fit_declared_length(head: bytes) -> int | None:
    """Total length the first FIT chunk declares (header + data + CRC), or None if no header."""
    if len(head) < 12:
        return None
    header_size, _, _, data_size, magic = _HEADER.unpack_from(head, 0)
    if magic != b".FIT" or header_size < 12:
        return None
    return int(header_size + data_size + 2)


@dataclass
class Chain:
    """Where the chunks of a (possibly chained) FIT byte string start and end."""

    chunks: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of whole chunks
    tail: Tail = "none"
    tail_start: int = 0


def walk(data: bytes) -> Chain:
    """The whole chunks of ``data`` and what follows them."""
    chain = Chain()
    pos, n = 0, len(data)
    while pos < n:
        declared = fit_declared_length(data[pos : pos + 12])
        if declared is None:
            rest = data[pos:]
            chain.tail = "zeros" if rest.count(0) == len(rest) else "garbage"
            chain.tail_start = pos
            return chain
        if pos + declared > n:
            chain.tail, chain.tail_start = "truncated", pos
            return chain
        chain.chunks.append((pos, pos + declared))
        pos += declared  # declared >= 14, so the walk is linear in the input size
    chain.tail_start = pos
    return chain


def fit_is_complete(data: bytes) -> bool:
    """True when ``data`` is one or more whole FIT chunks and ends exactly at a chunk's end.

    A file still being copied (or cut short) gives False; so do trailing bytes after the last
    chunk, so a watcher should also give up waiting after the size has been stable for a while.
    """
    chain = walk(data)
    return bool(chain.chunks) and chain.tail == "none"


def _crc_tables() -> tuple[list[int], list[int]]:
    byte_table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        byte_table.append(crc)
    # CRC-16/ARC is reflected and 16 bits wide, so a little-endian 16-bit word folds in at once.
    word_table = []
    for w in range(65536):
        crc = byte_table[w & 0xFF] ^ (w >> 8)
        crc = (crc >> 8) ^ byte_table[crc & 0xFF]
        word_table.append(crc)
    return byte_table, word_table


_CRC_BYTE, _CRC_WORD = _crc_tables()


def fit_crc(data: bytes | memoryview, crc: int = 0) -> int:
    """The FIT CRC-16 (CRC-16/ARC) of ``data``, continuing from ``crc``."""
    mv = memoryview(data)
    even = len(mv) & ~1
    words = array("H")
    words.frombytes(mv[:even])
    if sys.byteorder == "big":
        words.byteswap()
    table = _CRC_WORD
    for w in words:
        crc = table[crc ^ w]
    if even != len(mv):
        crc = (crc >> 8) ^ _CRC_BYTE[(crc ^ mv[-1]) & 0xFF]
    return crc


def bad_crc_chunks(data: bytes, chain: Chain) -> list[int]:
    """Start offsets of the whole chunks whose stored CRC does not match their bytes."""
    view = memoryview(data)
    bad = []
    for start, end in chain.chunks:
        stored = data[end - 2] | (data[end - 1] << 8)
        if fit_crc(view[start : end - 2]) != stored:
            bad.append(start)
    return bad
