"""The inbox watcher: a watchfiles loop that hands ready files to a handler, in batches.

The loop only notices; deciding is ``pipeline.inbox.scan`` and ``readiness`` (which files, when ready) and doing is the
handler (ingest directly, or emit an event for a Prefect deployment). Files already in the inbox
at start are taken like new ones, so nothing dropped while nobody watched is missed. Every
change, and a full rescan every ``rescan_s`` (events can be lost on network mounts), re-reads
the folder; between events, files waiting to settle are re-checked every ``tick_s``.

The caller passes the clock (monotonic seconds) and a ``threading.Event`` to stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from pipeline.config import Settings
from pipeline.errors import InboxError
from pipeline.inbox.readiness import ReadinessTracker, probe_file
from pipeline.inbox.scan import InboxFile, archive_dir, quarantine_dir, scan_inbox

log = logging.getLogger("legday.watcher")

Handler = Callable[[list[InboxFile]], None]


@dataclass(frozen=True)
class WatchOptions:
    settle_s: float = 2.0
    stalled_s: float = 120.0
    retry_s: float = 300.0
    tick_s: float = 0.5
    rescan_s: float = 60.0
    force_polling: bool = False


def check_inbox(inbox: Path) -> Path:
    """The inbox as an absolute folder, or ``InboxError`` saying what is wrong with it."""
    inbox = Path(inbox).absolute()
    if not inbox.exists():
        raise InboxError(f"the inbox {inbox} does not exist; create it or pass another folder")
    if not inbox.is_dir():
        raise InboxError(f"the inbox {inbox} is not a folder")
    return inbox


class InboxWatcher:
    """Tracks the inbox and calls ``handler`` with each batch of files that became ready."""

    def __init__(
        self,
        inbox: Path,
        settings: Settings,
        handler: Handler,
        *,
        clock: Callable[[], float],
        options: WatchOptions | None = None,
    ) -> None:
        self.inbox = check_inbox(inbox)
        self.settings = settings
        self.handler = handler
        self.clock = clock
        self.options = options or WatchOptions()
        self.tracker = ReadinessTracker(
            self.options.settle_s, self.options.stalled_s, self.options.retry_s
        )
        self._told: set[tuple[Path, str]] = set()
        self._last_scan = float("-inf")
        self._athletes: dict[Path, str] = {}
        self.batches = 0

    def rescan(self) -> None:
        """Read the whole inbox: track new files, drop vanished ones, log skipped ones once."""
        taken, skipped = scan_inbox(
            self.inbox,
            self.settings,
            exclude=[archive_dir(self.settings), quarantine_dir(self.settings)],
        )
        now = self.clock()
        present = {f.path for f in taken}
        self._athletes = {f.path: f.athlete_id for f in taken}
        for path in self.tracker.tracked():
            if path not in present:
                self.tracker.forget(path)
        for path in present:
            self.tracker.observe(path, probe_file(path, self.tracker.probe(path)), now)
        for s in skipped:
            if s.reason != "temporary" and (s.path, s.reason) not in self._told:
                self._told.add((s.path, s.reason))
                log.warning("left alone: %s (%s)", s.path, s.message)
        self._last_scan = now

    def tick(self, changed: bool) -> list[InboxFile]:
        """One step: rescan if something changed, re-check waiting files, return the ready ones."""
        now = self.clock()
        if changed or now - self._last_scan >= self.options.rescan_s:
            self.rescan()
        else:
            for path in self.tracker.tracked():
                self.tracker.observe(path, probe_file(path, self.tracker.probe(path)), now)
        return [
            InboxFile(path, self._athletes[path])
            for path, _probe in self.tracker.due(self.clock())
            if path in self._athletes
        ]

    def hand_on(self, ready: list[InboxFile]) -> None:
        if not ready:
            return
        self.batches += 1
        try:
            self.handler(ready)
        except Exception:
            # The files stay in the inbox and are handed on again after ``retry_s``.
            log.exception(
                "handling %d file(s) failed; retrying in %.0f s", len(ready), self.options.retry_s
            )

    def run(self, stop: threading.Event) -> None:
        """Watch until ``stop`` is set (files present at start are taken first)."""
        self.hand_on(self.tick(changed=True))
        for changes in watchfiles.watch(
            self.inbox,
            watch_filter=None,
            debounce=int(self.options.tick_s * 1000),
            step=50,
            stop_event=stop,
            rust_timeout=int(self.options.tick_s * 1000),
            yield_on_timeout=True,
            raise_interrupt=False,
            force_polling=self.options.force_polling,
            poll_delay_ms=300,
        ):
            if stop.is_set():
                break
            self.hand_on(self.tick(changed=bool(changes)))
