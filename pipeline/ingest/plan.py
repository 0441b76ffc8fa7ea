"""Plan an ingest: read and hash each file ONCE, and sort out the bytes the store already has.

A file whose bytes the store (or an earlier file of this run) already has is decided here, as a
``same_bytes`` duplicate with a sighting, without a parse. The others become ``ParseJob``s that
carry the bytes read here (up to ``BYTES_IN_MEMORY``), so that the parser does not read or hash
them again. I/O: reads the files and queries/writes the store (sightings).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.fit import read_file
from pipeline.ingest.outcomes import FileOutcome, FileStatus, IngestReason, same_bytes
from pipeline.store import db as st
from pipeline.store import ingest_sql as q

#: Bytes of planned files kept in memory for the parser. Beyond it (a backfill of years) a job
#: carries only its hash and the parser reads the file again (from the page cache: the backfill
#: took 71.8 s either way): memory stays bounded by this, not by the history. A nightly run's
#: files fit; 256 MB let a backfill's bytes (59 MB on the bench history) add to the peak memory
#: the bench holds under 400 MB, and 16 MB still cost about 20 MB of peak (405 -> 366 MB PSS).
BYTES_IN_MEMORY = 4 * 1024 * 1024

#: (athlete, sha256) -> path of the first file with those bytes in this run.
InRun = dict[tuple[str, str], str]


@dataclass(frozen=True)
class ParseJob:
    """One file to parse: where it is, whose it is, its hash and (usually) its bytes."""

    path: str
    athlete_id: str
    sha256: str
    data: bytes | None = field(default=None, repr=False)  # None: the parser reads the file


@dataclass
class Plan:
    """What an ingest has to parse (in input order), and the outcomes decided without parsing."""

    jobs: list[ParseJob]
    decided: list[FileOutcome]


def plan_ingest(
    db_path: Path,
    items: Sequence[tuple[Path, str]],
    *,
    now: datetime,
    on_wait: st.WaitCallback | None = None,
    lock_timeout_s: float = 600.0,
    in_run: InRun | None = None,
    seen_as: Mapping[str, str] | None = None,
    bytes_in_memory: int = BYTES_IN_MEMORY,
) -> Plan:
    """Hash the files and sort out those the store already has (recorded as sightings).

    ``in_run`` holds the bytes already taken by this run (by an earlier plan of it: the loose
    files, when planning the members of zips); it is updated, and a repeat is a duplicate.
    ``seen_as`` maps a path to where it was seen, for ``file_sightings`` (a zip member).
    """
    seen_as = seen_as or {}
    decided: list[FileOutcome] = []
    hashed: list[tuple[str, str, str, bytes | None]] = []  # path, athlete, sha, bytes kept
    budget = bytes_in_memory
    for path, athlete in items:
        data, err = read_file(Path(path))
        if data is None:
            decided.append(
                FileOutcome(
                    str(path), athlete, None, FileStatus.QUARANTINED, IngestReason.UNREADABLE, err
                )
            )
            continue
        keep = len(data) <= budget
        budget -= len(data) if keep else 0
        hashed.append(
            (str(path), athlete, hashlib.sha256(data).hexdigest(), data if keep else None)
        )
        del data
    jobs: list[ParseJob] = []
    with st.open_store(db_path, timeout_s=lock_timeout_s, on_wait=on_wait) as store:
        store.migrate(now)
        by_athlete: dict[str, list[str]] = {}
        for _p, a, sha, _d in hashed:
            by_athlete.setdefault(a, []).append(sha)
        known = {a: q.known_files(store, a, shas) for a, shas in by_athlete.items()}
        seen_now: InRun = in_run if in_run is not None else {}
        sightings = []
        for spath, athlete, sha, data in hashed:
            if sha in known[athlete] or (athlete, sha) in seen_now:
                sightings.append((athlete, sha, seen_as.get(spath, spath), now))
                if sha in known[athlete]:
                    status, name = known[athlete][sha]
                    decided.append(same_bytes(spath, athlete, sha, name, status))
                else:
                    first = seen_now[(athlete, sha)]
                    name = seen_as.get(first, Path(first).name).rsplit("/", 1)[-1]
                    decided.append(same_bytes(spath, athlete, sha, name, None))
                continue
            seen_now[(athlete, sha)] = spath
            jobs.append(ParseJob(spath, athlete, sha, data))
        with store.transaction():
            q.record_sightings(store, sightings)
    return Plan(jobs, decided)
