"""Fuzzing: mutated real FIT files always end stored, partial or quarantined, in bounded time.

A bounded, seeded number of cases runs here; ``make fuzz`` (``scripts/fuzz.py``) runs thousands
with the same generators (``tests/fuzzing.py``) and writes a report.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.fit import parse_fit
from pipeline.ingest import ingest_files
from pipeline.store import db as stg
from tests.fuzzing import (
    FUZZ_NOW,
    MUTATIONS,
    OUTCOMES,
    SAMPLE_DATA,
    deadline,
    definition_offsets,
    make_cases,
    parse_case,
    reseal,
    seed_files,
    time_bound_s,
)

SEED = 20261124


def _check_cases(seeds: list[Path], n: int, seed: int) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for case in make_cases(seeds, n, seed):
        bound = time_bound_s(len(case.data))
        with deadline(bound + 5):  # a hang fails the test instead of blocking it
            out = parse_case(case.data)
        assert out.status in ("stored", "partial", "quarantined"), case.name
        assert out.internal_error is None, f"{case.name}: {out.internal_error}"
        assert out.seconds <= bound, f"{case.name} took {out.seconds:.1f} s (bound {bound:.0f} s)"
        if out.status != "stored":
            assert out.reason, f"{case.name}: {out.status} without a reason code"
        seen[(case.mutation, out.status)] += 1
    return seen


def test_mutations_are_deterministic_and_change_the_bytes() -> None:
    seeds = seed_files(None, max_bytes=0)
    a = [(c.name, c.data) for c in make_cases(seeds, 40, 7)]
    b = [(c.name, c.data) for c in make_cases(seeds, 40, 7)]
    assert a == b
    originals = {p.read_bytes() for p in seeds}
    assert sum(data in originals for _n, data in a) <= 2  # a mutation may rarely be a no-op
    assert {n.split("-")[1] for n, _d in a} == set(MUTATIONS)


def test_definition_walk_and_reseal_agree_with_the_parser() -> None:
    data = (SAMPLE_DATA / "2026-10-19-0700-run-easy.fit").read_bytes()
    assert reseal(data) == data  # the CRCs we compute are the file's
    offsets = definition_offsets(data)
    assert offsets and all(data[o] & 0x40 for o in offsets)
    broken = bytearray(data)
    broken[offsets[-1] + 5] = 255  # claims 255 fields: the decoder must see it, not only the CRC
    parsed = parse_fit(reseal(bytes(broken)), now=FUZZ_NOW)
    assert parsed.status in ("partial", "quarantined")


def test_sample_data_mutations_end_with_an_outcome_in_time() -> None:
    seen = _check_cases(seed_files(None, max_bytes=0), 80, SEED)
    assert {m for m, _s in seen} == set(MUTATIONS)
    assert {s for _m, s in seen} >= {"partial", "quarantined"}


@pytest.mark.corpus
def test_corpus_mutations_end_with_an_outcome_in_time(corpus_dir: Path) -> None:
    seeds = seed_files(corpus_dir, max_bytes=100_000)
    assert len(seeds) > 40
    seen = _check_cases(seeds, 200, SEED + 1)
    assert sum(seen.values()) == 200


@pytest.mark.corpus
def test_a_batch_of_valid_and_mutated_files_stores_every_valid_file(
    tmp_path: Path, corpus_dir: Path
) -> None:
    """Through the real ingest (2 parser processes): nothing crashes, every valid file is stored."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    valid = sorted(SAMPLE_DATA.glob("*.fit"))[:6]
    valid += sorted(p for p in corpus_dir.glob("*.fit") if 5_000 < p.stat().st_size < 60_000)[:4]
    items: list[tuple[Path, str]] = []
    for p in valid:  # valid files first: a sound copy must not be judged a duplicate of a mutant
        (inbox / p.name).write_bytes(p.read_bytes())
        items.append((inbox / p.name, "me"))
    cases = list(make_cases(seed_files(corpus_dir, max_bytes=60_000), 32, SEED + 2))
    rng = random.Random(SEED)
    mutants = []
    for case in cases:
        (inbox / case.name).write_bytes(case.data)
        mutants.append((inbox / case.name, "me"))
    rng.shuffle(mutants)
    items += mutants
    db = tmp_path / "legday.duckdb"

    summary = ingest_files(db, items, now=FUZZ_NOW, workers=2)

    by_path = {o.path: o for o in summary.outcomes}
    assert set(by_path) == {str(p) for p, _a in items}
    assert all(o.status in OUTCOMES for o in summary.outcomes)
    assert not [o.path for o in summary.outcomes if o.reason_code == "parser_crash"]
    assert summary.seconds < sum(time_bound_s(p.stat().st_size) for p, _a in items)
    for p in valid:
        out = by_path[str(inbox / p.name)]
        assert out.status == "stored", (p.name, out.reason_code, out.message)
        expected = parse_fit(p.read_bytes(), now=FUZZ_NOW).sessions.height
        assert out.activities == expected
    with stg.open_store(db, read_only=True) as s:
        files = {r[0]: r[1] for r in s.rows("SELECT sha256, status FROM files")}
        per_file = dict(s.rows("SELECT file_sha256, count(*) FROM activities GROUP BY ALL"))
    for o in summary.outcomes:
        if o.sha256 is not None and not o.already_known:  # same bytes twice: one row
            # A partial copy is superseded (-> duplicate) when a complete copy arrives later.
            assert files[o.sha256] in (o.status, "duplicate" if o.status == "partial" else ""), (
                o.path
            )
    for p in valid:
        o = by_path[str(inbox / p.name)]
        assert per_file.get(o.sha256, 0) == o.activities


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=400),
    declared=st.integers(min_value=0, max_value=2**32 - 1),
    header_size=st.sampled_from([12, 14, 0, 255]),
)
def test_any_bytes_behind_a_fit_header_give_an_outcome(
    body: bytes, declared: int, header_size: int
) -> None:
    head = bytes([header_size, 0x20, 0x92, 0x08]) + declared.to_bytes(4, "little") + b".FIT"
    data = head + (b"\0\0" if header_size == 14 else b"") + body
    with deadline(10):
        out = parse_case(data)
    assert out.status in ("stored", "partial", "quarantined")
    assert out.internal_error is None
