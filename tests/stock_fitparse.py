"""Decode FIT files with fitparse in a fresh interpreter: the tests' independent oracle.

Run as a script (``python tests/stock_fitparse.py MODE [--fast] FILE...``); it writes a pickle to
stdout. ``--fast`` switches on legday's fitparse speed-ups (``pipeline.fit.decode``) first and
opens files the way legday does; without it nothing of legday is imported, and the script checks
that fitparse's ``FieldData.__init__`` is fitparse's own before it answers, so stock means stock.

Modes:

- ``values``: per file, ``[(message name, get_values()), ...]`` with CRC checks on and fitparse's
  default data processor (names, units, datetimes).
- ``digest``: per file, the SHA-256 of every message's name, ``get_values()`` and each field's
  (name, value type, value, raw_value, units), then the exception fitparse stopped with, if any.
  Values stay raw and CRCs unchecked, as legday
  decodes; a data processor is a function of these fields, so equal fields give equal processed
  values too.
"""

from __future__ import annotations

import hashlib
import marshal
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class _Raw:
    """fitparse's data processor hooks as legday sets them: values stay raw."""

    run_type_processor = run_field_processor = run_unit_processor = staticmethod(id)
    run_message_processor = staticmethod(id)


def _open(path: str, fast: bool, raw: bool) -> Any:
    data = Path(path).read_bytes()
    if fast:
        from pipeline.fit.decode import open_fit

        return open_fit(data, raw=raw, check_crc=not raw)
    import io

    import fitparse

    return fitparse.FitFile(
        io.BytesIO(data), check_crc=not raw, data_processor=_Raw() if raw else None
    )


def values(path: str, fast: bool) -> list[tuple[str, dict[str, Any]]]:
    return [(m.name, m.get_values()) for m in _open(path, fast, raw=False).get_messages()]


def digest(path: str, fast: bool) -> str:
    # marshal (C) instead of repr: a third of the cost; the type name keeps 1 and 1.0 apart.
    h = hashlib.sha256()
    try:
        for msg in _open(path, fast, raw=True).get_messages():
            fields = tuple(
                (f.name, f.value.__class__.__name__, f.value, f.raw_value, f.units)
                for f in msg.fields
            )
            h.update(marshal.dumps((msg.name, fields, tuple(msg.get_values().items()))))
    except Exception as exc:  # the broken corpus files: how fitparse stops is part of the output
        h.update(repr((type(exc).__name__, str(exc))).encode())
    return h.hexdigest()


def main(argv: list[str]) -> None:
    mode, fast = argv[0], "--fast" in argv
    files = [a for a in argv[1:] if a != "--fast"]
    warnings.filterwarnings("ignore")
    if fast:
        sys.path.insert(0, str(ROOT))
        from pipeline.fit.decode import enable_fast_decode

        on = enable_fast_decode()
    else:
        on = False
    run = values if mode == "values" else digest
    out: dict[str, Any] = {f: run(f, fast) for f in files}

    from fitparse.records import FieldData

    stock = FieldData.__init__.__module__ == "fitparse.records"
    if not fast and (not stock or any(m.startswith("pipeline") for m in sys.modules)):
        raise SystemExit("the stock oracle was not stock: legday was imported or fitparse patched")
    pickle.dump({"fast": on, "stock_field_data": stock, "files": out}, sys.stdout.buffer)


if __name__ == "__main__":
    main(sys.argv[1:])
