"""Reading one decoded message's fields by FIT field number, with the generated profile's scales.

``decode`` hands each message over as ``Fields``: ``{field number: (raw value, from_component)}``
(components already carry their scale, fitparse applies it). The readers here turn a field named
in ``profile.FIELDS`` into a float, int, string or list of codes, or None. No I/O.
"""

from __future__ import annotations

from typing import Any

from pipeline.fit import profile as prof

#: One message: {field number: (raw value, from_component)}.
Fields = dict[int, tuple[Any, bool]]

F = prof.FIELDS


def num(fs: Fields, mesg: str, name: str) -> float | None:
    """A numeric field in its unit (the profile's scale applied), first non-null of an array."""
    number, scale = F[mesg][name]
    got = fs.get(number)
    if got is None:
        return None
    value, comp = got
    if isinstance(value, tuple):
        value = next((v for v in value if v is not None), None)
    if value is None or isinstance(value, (str, bytes)):
        return None
    return float(value) if comp or scale == 1 else value / scale


def integer(fs: Fields, mesg: str, name: str) -> int | None:
    """A raw integer field (a code, a count, a FIT time), first non-null of an array."""
    got = fs.get(F[mesg][name][0])
    if got is None:
        return None
    value = got[0]
    if isinstance(value, tuple):
        value = next((v for v in value if v is not None), None)
    return value if isinstance(value, int) else None


def text(fs: Fields, mesg: str, name: str) -> str | None:
    """A string field without its NUL padding, or None when empty."""
    got = fs.get(F[mesg][name][0])
    if got is None:
        return None
    value = got[0]
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(value, str):
        value = value.strip("\0 ").strip()
        return value or None
    return None


def codes(fs: Fields, mesg: str, name: str) -> list[int]:
    """Every integer of an array field (or the one value of a scalar field)."""
    got = fs.get(F[mesg][name][0])
    if got is None or got[0] is None:
        return []
    value = got[0]
    seq = value if isinstance(value, tuple) else (value,)
    return [v for v in seq if isinstance(v, int)]


def enum_name(table: dict[int, str], code: int | None) -> str | None:
    """The profile's name of a code, the code as text when the profile lacks it."""
    if code is None:
        return None
    return table.get(code, str(code))


def exercise(category: str | None, subtype: int | None) -> str | None:
    """The exercise a category's subtype names (squat/0 -> 'leg_press'), when known."""
    if category is None or subtype is None:
        return None
    return prof.EXERCISE_NAMES.get(category, {}).get(subtype)
