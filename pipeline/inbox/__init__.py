"""The watched inbox: which files to take (``scan``), when one is ready (``readiness``), where
it goes after its ingest (``filing``), and the watchfiles loop (``watcher``).

Plain functions and classes, so that the watcher, the Prefect flows and the tests share one
behaviour.
"""

from pipeline.inbox.filing import Filed, InboxRun, ingest_and_file
from pipeline.inbox.readiness import Probe, ReadinessTracker, probe_file, sweep_inbox
from pipeline.inbox.scan import (
    InboxFile,
    Skipped,
    archive_dir,
    classify_path,
    quarantine_dir,
    scan_inbox,
)

__all__ = [
    "Filed",
    "InboxFile",
    "InboxRun",
    "Probe",
    "ReadinessTracker",
    "Skipped",
    "archive_dir",
    "classify_path",
    "ingest_and_file",
    "probe_file",
    "quarantine_dir",
    "scan_inbox",
    "sweep_inbox",
]
