"""When an inbox file may be handed on: it is complete and has stopped changing.

A FIT file declares its own length, so it must be complete *and* unchanged (size and mtime) for
``settle_s``; a file that can never be complete (not FIT, trailing bytes, cut short) is handed
on once it has stopped changing for ``stalled_s``, so that it gets an outcome instead of waiting
forever; an empty file cannot become valid once settled, so it does not wait for ``stalled_s``.
The other files legday reads are told complete by their own end where they have one (a zip's
central directory, a gzip trailer, ``END:VCALENDAR``, a JSON document that parses), so a slow
copy of an export or a calendar is not taken half-written; a CSV has no end and waits ``settle_s``.
``ReadinessTracker`` is the watcher's rule (the caller passes monotonic ``now``); ``ready_by_age``
and ``sweep_inbox`` the one-shot version for sweeps. I/O: reads file heads (and a whole FIT file
to check its chain), only when its size or mtime changed.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from pipeline.config import Settings
from pipeline.fit import fit_declared_length, fit_is_complete
from pipeline.inbox.scan import InboxFile, Skipped, archive_dir, quarantine_dir, scan_inbox


@dataclass(frozen=True)
class Probe:
    """What a look at a file found: size, mtime and how complete its FIT content is.

    ``state`` is ``complete`` (whole FIT chunks, nothing after), ``incomplete`` (a FIT header
    declares more bytes than there are), ``trailing`` (bytes after the declared end),
    ``not_fit`` (no FIT header), ``empty`` (zero bytes) or ``short`` (too few bytes to tell).
    """

    size: int
    mtime_ns: int
    state: str

    @property
    def signature(self) -> tuple[int, int]:
        return self.size, self.mtime_ns


def probe_file(path: Path, previous: Probe | None = None) -> Probe | None:
    """Look at a file; None when it is gone. Reads the bytes only when size or mtime changed."""
    try:
        st_ = path.stat()
    except OSError:
        return None
    if previous is not None and previous.signature == (st_.st_size, st_.st_mtime_ns):
        return previous
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if not head:
                # Zero bytes can never become a valid file once settled: no stalled wait.
                return Probe(st_.st_size, st_.st_mtime_ns, "empty")
            if len(head) < 12:
                return Probe(st_.st_size, st_.st_mtime_ns, "short")
            if head.startswith(b"PK\x03\x04"):
                # A zip's central directory is written last: it exists only in a complete copy.
                state = "complete" if zipfile.is_zipfile(path) else "incomplete"
                return Probe(st_.st_size, st_.st_mtime_ns, state)
            declared = fit_declared_length(head)
            if declared is None:
                return Probe(st_.st_size, st_.st_mtime_ns, _other_state(path, head, fh))
            if st_.st_size < declared:
                return Probe(st_.st_size, st_.st_mtime_ns, "incomplete")
            data = head + fh.read()
    except OSError:
        # Unreadable: it will be handed on once stalled and get an "unreadable" outcome.
        return Probe(st_.st_size, st_.st_mtime_ns, "short")
    state = "complete" if fit_is_complete(data) else "trailing"
    return Probe(len(data), st_.st_mtime_ns, state)


#: Files larger than this are not read whole to find their end (they wait ``settle_s``).
_END_CHECK_BYTES = 64 * 1024 * 1024


def _other_state(path: Path, head: bytes, fh: BinaryIO) -> str:
    """``complete``/``incomplete`` for a gzip, calendar or JSON file by its end, else ``not_fit``."""
    lower = path.name.lower()
    known = head.startswith(b"\x1f\x8b") or lower.endswith((".ics", ".json"))
    if not known or path.stat().st_size > _END_CHECK_BYTES:
        return "not_fit"
    data = head + fh.read()
    if head.startswith(b"\x1f\x8b"):
        inflate = zlib.decompressobj(wbits=31)
        try:
            while data and not inflate.eof:
                inflate.decompress(data, 1 << 20)
                data = inflate.unconsumed_tail
        except zlib.error:
            return "incomplete"
        return "complete" if inflate.eof else "incomplete"
    if lower.endswith(".ics"):
        return "complete" if data.rstrip().upper().endswith(b"END:VCALENDAR") else "incomplete"
    try:
        json.loads(data)
    except ValueError:
        return "incomplete"
    return "complete"


def wait_needed(state: str, settle_s: float, stalled_s: float) -> float:
    """Seconds a file in ``state`` must stay unchanged before it is handed on."""
    return settle_s if state in ("complete", "not_fit", "empty") else max(settle_s, stalled_s)


def ready_by_age(probe: Probe, age_s: float, *, settle_s: float, stalled_s: float) -> bool:
    """One-shot readiness (sweeps): the file's mtime is old enough for its state."""
    return age_s >= wait_needed(probe.state, settle_s, stalled_s)


@dataclass
class _Entry:
    probe: Probe
    since: float
    handed_at: float | None = None


@dataclass
class ReadinessTracker:
    """Decides when files may be handed on; the caller passes ``now`` (monotonic seconds).

    A file is due once its signature (size, mtime) has not changed for ``wait_needed`` seconds.
    It is handed on once; if it is still there unchanged ``retry_s`` later (the handler failed,
    or a Prefect run never came), it is handed on again.
    """

    settle_s: float = 2.0
    stalled_s: float = 120.0
    retry_s: float = 300.0
    _entries: dict[Path, _Entry] = field(default_factory=dict)

    def observe(self, path: Path, probe: Probe | None, now: float) -> None:
        if probe is None:
            self._entries.pop(path, None)
            return
        entry = self._entries.get(path)
        if entry is None or entry.probe.signature != probe.signature:
            self._entries[path] = _Entry(probe, now)
        else:
            entry.probe = probe

    def forget(self, path: Path) -> None:
        self._entries.pop(path, None)

    def probe(self, path: Path) -> Probe | None:
        entry = self._entries.get(path)
        return entry.probe if entry else None

    def tracked(self) -> list[Path]:
        return sorted(self._entries)

    def _due_at(self, entry: _Entry) -> float:
        if entry.handed_at is not None:
            return entry.handed_at + self.retry_s
        return entry.since + wait_needed(entry.probe.state, self.settle_s, self.stalled_s)

    def due(self, now: float) -> list[tuple[Path, Probe]]:
        """Files to hand on now (marked as handed); sorted by path."""
        out = []
        for path in sorted(self._entries):
            entry = self._entries[path]
            if now >= self._due_at(entry):
                entry.handed_at = now
                out.append((path, entry.probe))
        return out


def sweep_inbox(
    inbox: Path,
    settings: Settings,
    *,
    now: datetime,
    settle_s: float = 2.0,
    stalled_s: float = 120.0,
) -> tuple[list[InboxFile], list[Skipped]]:
    """Files of the inbox that are ready now, judged by mtime age (nightly, triggered runs)."""
    taken, skipped = scan_inbox(
        inbox, settings, exclude=[archive_dir(settings), quarantine_dir(settings)]
    )
    ready = []
    for f in taken:
        probe = probe_file(f.path)
        if probe is None:
            continue
        age = now.timestamp() - probe.mtime_ns / 1e9
        if ready_by_age(probe, age, settle_s=settle_s, stalled_s=stalled_s):
            ready.append(f)
    return ready, skipped
