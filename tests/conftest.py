"""Shared fixtures: the real FIT corpus, the sample data, and what is costly to make twice.

Session-wide, because each costs seconds and the tests only read them: the Prefect test harness
(one server for every test that talks to Prefect in-process) and the corpus parsed once.
"""

from __future__ import annotations

import csv
import functools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pipeline.fit import ParsedFile

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "fit-corpus"
SAMPLE_DATA = ROOT / "sample_data"
#: The clock of ``parsed_corpus``: after every corpus file, so none is dated in the future.
CORPUS_NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _corpus_or_skip() -> Path:
    if (CORPUS / "manifest.csv").is_file():
        return CORPUS
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the shared FIT corpus is missing at {CORPUS}")
    pytest.skip(f"shared FIT corpus not found at {CORPUS} (only on developer machines and CI)")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Folder of the shared real FIT files; skips on a user's clone, fails in CI when missing."""
    return _corpus_or_skip() / "files"


@pytest.fixture(scope="session")
def corpus_manifest() -> list[dict[str, str]]:
    """Rows of the corpus manifest (one per file)."""
    base = _corpus_or_skip()
    with open(base / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def parsed_corpus(corpus_dir: Path, corpus_manifest: list[dict[str, str]]) -> dict[str, ParsedFile]:
    """Every corpus file of the manifest parsed once, by file name: ``parse_fit(bytes,
    now=CORPUS_NOW)`` in fast mode, as a parser process runs it, in two fresh processes (the
    speed-ups stay out of this one). Read-only: a test that changes a frame copies it first."""
    from pipeline.fit import enable_fast_decode, parse_fit

    names = [row["file"] for row in corpus_manifest]
    parse = functools.partial(parse_fit, now=CORPUS_NOW)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(2, mp_context=spawn, initializer=enable_fast_decode) as pool:
        parsed = pool.map(parse, [(corpus_dir / name).read_bytes() for name in names])
        return dict(zip(names, parsed, strict=True))


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test server for the whole session, with its own PREFECT_HOME.

    Starting one costs ~10 s on two cores; every test that runs flows in this process shares it
    (tests that need a server of their own, to kill it, start a ``LocalServer``).
    """
    from prefect.settings import PREFECT_HOME, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    home = tmp_path_factory.mktemp("prefect-home")
    with temporary_settings({PREFECT_HOME: home}), prefect_test_harness(server_startup_timeout=60):
        yield
