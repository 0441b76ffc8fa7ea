"""Shared fixtures: the real FIT corpus beside the project, the sample data, a scratch store."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "fit-corpus"
SAMPLE_DATA = ROOT / "sample_data"


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
