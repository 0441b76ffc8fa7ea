"""legday's fitparse speed-ups (``pipeline.fit.decode``) against stock fitparse.

Both sides run in fresh interpreters (``tests/stock_fitparse.py``), so the stock side is provably
unpatched whatever this process has parsed before; each computes one digest per file of every
message's ``get_values()`` and fields, and the two must agree on every corpus and sample file.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.fit import decode

HERE = Path(__file__).resolve().parent
SAMPLE_FILES = sorted(str(p) for p in (HERE.parent / "sample_data").glob("*.fit"))


def _digests(files: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stock, fast) answers of the helper, the two run side by side."""
    cmd = [sys.executable, str(HERE / "stock_fitparse.py"), "digest"]
    procs = [
        subprocess.Popen([*cmd, *extra, *files], stdout=subprocess.PIPE)
        for extra in ([], ["--fast"])
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0
        out.append(pickle.loads(stdout))
    return out[0], out[1]


def _assert_same(files: list[str]) -> None:
    stock, fast = _digests(files)
    assert stock["fast"] is False and stock["stock_field_data"] is True
    assert fast["fast"] is True, "the fast mode did not switch on (fitparse not 1.2.0?)"
    assert fast["stock_field_data"] is False
    differ = [Path(f).name for f in files if stock["files"][f] != fast["files"][f]]
    assert differ == []
    # The digest tells files apart (two corpus pairs decode to the same messages: files that
    # differ only in their CRC, and a copy of Settings.fit).
    assert len(set(stock["files"].values())) >= 0.9 * len(files)


def test_fast_decode_matches_stock_on_sample_files() -> None:
    _assert_same(SAMPLE_FILES)


@pytest.mark.corpus
def test_fast_decode_matches_stock_on_corpus(corpus_dir: Path) -> None:
    _assert_same(sorted(str(p) for p in corpus_dir.iterdir()))


def test_fast_decode_refuses_another_fitparse(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    before = decode.FieldData.__init__
    monkeypatch.setattr(decode, "_fast", False)
    monkeypatch.setattr(decode, "_refused", None)
    monkeypatch.setattr(decode.fitparse, "__version__", "1.3.0")
    with caplog.at_level(logging.WARNING, logger=decode.__name__):
        assert decode.enable_fast_decode() is False
        assert decode.enable_fast_decode() is False
    assert decode.FieldData.__init__ is before
    assert not decode.fast_decode_enabled()
    (record,) = caplog.records  # said once
    assert "fitparse is 1.3.0" in record.getMessage()


def test_fast_decode_refuses_other_field_data_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    before = decode.FieldData.__init__
    monkeypatch.setattr(decode, "_fast", False)
    monkeypatch.setattr(decode, "_refused", None)
    monkeypatch.setattr(decode.FieldData, "__slots__", ("field_def", "field", "value"))
    assert decode.enable_fast_decode() is False
    assert decode.FieldData.__init__ is before


def test_importing_the_parser_changes_nothing() -> None:
    code = (
        "import pipeline.fit, pipeline.fit.worker\n"
        "from fitparse.records import FieldData\n"
        "assert FieldData.__init__.__module__ == 'fitparse.records'\n"
        "assert not pipeline.fit.decode.fast_decode_enabled()\n"
        f"pipeline.fit.parse_file({SAMPLE_FILES[0]!r}, None)\n"
        "assert FieldData.__init__.__module__ == 'pipeline.fit.decode'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
