"""FIT bytes in, a ``ParsedFile`` out: what happens to a file, and why. No I/O.

``parse_fit`` never raises for bad input. Every byte string ends as ``stored``, ``partial`` or
``quarantined`` with a stable reason code (``Note.code``):

=================================  ==============  ==========================================
code                               status          when
=================================  ==============  ==========================================
``empty``                          quarantined     zero bytes
``not_fit``                        quarantined     the first 12 bytes are not a FIT header
``no_data``                        quarantined     a sound header but no decodable message
``truncated``                      partial / q.    data ends before the declared length, or
                                                   fitparse stops mid-file (EOF, undefined
                                                   local message); partial keeps the prefix
``decode_error``                   partial / q.    fitparse raised anything else on the bytes
``relative_timestamps_unanchored`` quarantined     device-relative times with no anchor
``trailing_bytes``                 partial         bytes after the last chunk that are not FIT
``crc_mismatch``                   partial         a chunk's CRC is wrong; data kept
=================================  ==============  ==========================================

Warnings (``ParsedFile.warnings``): ``zero_padding`` (trailing zeros, file stored),
``bad_utc_offset``, ``relative_timestamps`` (converted; says how they were anchored),
``implausible_timestamp`` (one per affected session, also in ``ParsedFile.session_problems``
with its session index; the file is kept but the store/report must not put that session on a
day), ``no_session_message`` (summary derived from records), plus the codes above when a file
has several problems (the most serious is the ``reason``).

The steps: ``container`` walks the chunks and checks their CRCs, ``decode`` runs fitparse over
the whole chunks (or over everything, when the last one is cut), ``frames`` builds the frames.
"""

from __future__ import annotations

from datetime import datetime

from pipeline.fit.container import bad_crc_chunks, walk
from pipeline.fit.decode import Stop, collect, plan_messages
from pipeline.fit.frames import build
from pipeline.fit.schemas import PLAN_FILE_TYPES, Note, ParsedFile

__all__ = ["PARSER_VERSION", "parse_fit"]

#: Bump whenever the frames or notes parse_fit returns for the same bytes change.
PARSER_VERSION = "1.1.0"


def _quarantine(code: str, message: str, n: int = 0) -> ParsedFile:
    return ParsedFile(status="quarantined", reason=Note(code, message), n_messages=n)


def _describe(exc: BaseException | None) -> str:
    """``Type: text`` of what fitparse raised (``decode`` sets it whenever ``stop`` is set)."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def parse_fit(data: bytes, *, now: datetime | None = None) -> ParsedFile:
    """Decode one FIT file's bytes; never raises for bad input (see the module docstring).

    ``now`` (tz-aware UTC) is only used to flag sessions dated in the future.
    """
    try:
        return _parse(bytes(data), now)
    except Exception as exc:  # a bug of ours must not stop the batch; record it on the file
        return _quarantine(
            "decode_error",
            f"legday could not decode this file ({_describe(exc)}). Report it with the file "
            "attached; it was kept in quarantine.",
        )


def _parse(data: bytes, now: datetime | None) -> ParsedFile:
    if not data:
        return _quarantine(
            "empty", "The file is empty (0 bytes). Copy it again from the watch or app."
        )
    chain = walk(data)
    if not chain.chunks and chain.tail != "truncated":
        return _quarantine(
            "not_fit",
            "This is not a FIT file (no '.FIT' header in its first 12 bytes). Export the "
            "activity as an original FIT file and drop that in.",
        )

    problems: list[Note] = []
    bad_crc = bad_crc_chunks(data, chain)

    end = chain.chunks[-1][1] if chain.chunks else 0
    buf = data if chain.tail == "truncated" else data[:end]
    c = collect(buf)

    if chain.tail == "truncated":
        problems.append(
            Note(
                "truncated",
                f"The file ends before its declared length ({len(data)} bytes present"
                + (f"; {_describe(c.error)}" if c.error else "")
                + "). It was probably still being copied or the device stopped while writing; "
                "everything before the break was kept. Copy it again if the original is whole.",
            )
        )
    elif c.stop is Stop.EOF:
        # The declared length is there, but the messages inside run past it: the device wrote
        # a broken last message (a dying battery, a crash) or a length that lies.
        problems.append(
            Note(
                "truncated",
                f"The messages of the file stop before its end ({_describe(c.error)}): the "
                "device probably stopped while writing. Everything before the break was kept; "
                "re-export the file from the watch or app if you have the original.",
            )
        )
    elif c.stop is Stop.UNREADABLE:
        problems.append(
            Note(
                "truncated",
                f"The file stops making sense part-way ({_describe(c.error)}); everything "
                "before that point was kept. Re-export it from the watch or app if you can.",
            )
        )
    elif c.stop is Stop.OTHER:
        problems.append(
            Note(
                "decode_error",
                f"fitparse failed part-way through the file ({_describe(c.error)}); "
                "everything before that point was kept. Re-export it from the watch or app.",
            )
        )
    if chain.tail == "garbage":
        problems.append(
            Note(
                "trailing_bytes",
                f"{len(data) - chain.tail_start} bytes after the end of the FIT data are not FIT "
                "data; they were ignored. Re-export the file if something seems missing.",
            )
        )
    zero_pad = chain.tail == "zeros"
    if bad_crc:
        problems.append(
            Note(
                "crc_mismatch",
                f"{len(bad_crc)} of {len(chain.chunks)} FIT chunk(s) fail the CRC check, so some "
                "values may be corrupted; the data was kept. Copy the file again from the device.",
            )
        )

    if c.n_messages == 0:
        first = problems[0] if problems else None
        if first is not None and first.code in {"truncated", "decode_error"}:
            return _quarantine(first.code, first.message)
        return _quarantine(
            "no_data",
            "The FIT header is sound but the file holds no decodable message. Re-export it.",
        )

    parsed, fatal = build(c, now)
    if fatal is not None:
        return parsed
    if parsed.info.file_type in PLAN_FILE_TYPES:
        # Workout and schedule files carry plans, not activities: their messages go to
        # pipeline.plans as fitparse's standard processor decodes them (a second, tiny pass).
        parsed.plan = plan_messages(buf)
    usable = (
        (parsed.plan is not None and (parsed.plan.workout is not None or parsed.plan.schedules))
        or parsed.sessions.height
        or parsed.sets.height
        or parsed.steps.height
        or parsed.hr.height
        or parsed.laps.height
    )
    if problems and not usable:
        return _quarantine(problems[0].code, problems[0].message, c.n_messages)
    if zero_pad:
        parsed.warnings.append(
            Note(
                "zero_padding",
                f"{len(data) - chain.tail_start} zero bytes follow the FIT data (padding from a "
                "copy tool); they were ignored. Nothing to do.",
            )
        )
    if problems:
        parsed.status = "partial"
        parsed.reason = problems[0]
        parsed.warnings.extend(problems[1:])
    return parsed
