"""Recognise a Garmin or Strava export from its member names (a zip's list or a folder listing).

Pure: names in, typed roles out; nothing is opened. Layouts (``../shared/research/exports.md``):

- Garmin: ``DI_CONNECT/DI-Connect-Fitness/*_summarizedActivities.json`` (summaries) and the
  original uploads as zip(s) nested in ``DI_CONNECT/DI-Connect-Uploaded-Files/`` (FIT files
  inside). The older folder name ``DI-Connect-Fitness-Uploaded-Files`` is UNCONFIRMED: accepted,
  with a note. FIT files found loose in those folders (an unpacked export) are payloads too.
- Strava: ``activities.csv`` with an ``activities/`` folder beside it holding ``.fit``,
  ``.fit.gz`` (FIT payloads) and ``.gpx``/``.tcx`` (±``.gz``; legday cannot read them).

Names may carry a leading folder (an export unpacked into ``export_123/``) and Windows
separators; extensions are matched case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipeline.exports.types import ExportSource

__all__ = ["ExportLayout", "ExportMember", "MemberRole", "find_export_members"]

_GARMIN_UPLOAD_DIRS = ("di-connect-uploaded-files", "di-connect-fitness-uploaded-files")
_UNCONFIRMED_UPLOAD_DIR = "di-connect-fitness-uploaded-files"
_OTHER_TRACKS = (".gpx", ".tcx", ".gpx.gz", ".tcx.gz")


class MemberRole(StrEnum):
    """What a member of an export is to legday."""

    SUMMARY = "summary"  # summarizedActivities.json or activities.csv
    FIT = "fit"  # a FIT file (``gzipped`` says whether to gunzip it first)
    NESTED_ZIP = "nested_zip"  # a zip of original FIT files inside the export
    UNSUPPORTED = "unsupported"  # an activity file legday cannot read (GPX, TCX)


@dataclass(frozen=True)
class ExportMember:
    """One member name with its role; ``name`` is exactly as given (to open it)."""

    name: str
    role: MemberRole
    source: ExportSource
    gzipped: bool = False


@dataclass(frozen=True)
class ExportLayout:
    """The members of an export legday uses, in input order, and what was odd."""

    members: tuple[ExportMember, ...] = ()
    notes: tuple[str, ...] = ()

    def _with(self, role: MemberRole) -> tuple[ExportMember, ...]:
        return tuple(m for m in self.members if m.role is role)

    @property
    def summaries(self) -> tuple[ExportMember, ...]:
        return self._with(MemberRole.SUMMARY)

    @property
    def fit_payloads(self) -> tuple[ExportMember, ...]:
        return self._with(MemberRole.FIT)

    @property
    def nested_zips(self) -> tuple[ExportMember, ...]:
        return self._with(MemberRole.NESTED_ZIP)

    @property
    def unsupported(self) -> tuple[ExportMember, ...]:
        return self._with(MemberRole.UNSUPPORTED)

    @property
    def sources(self) -> frozenset[ExportSource]:
        """Which exports were recognised (both, when a folder holds both)."""
        return frozenset(m.source for m in self.members if m.role is MemberRole.SUMMARY)


def _fit_kind(lower: str) -> tuple[bool, bool] | None:
    """(is FIT, gzipped) for FIT names, None for anything else."""
    if lower.endswith(".fit"):
        return True, False
    if lower.endswith(".fit.gz"):
        return True, True
    return None


def find_export_members(names: list[str]) -> ExportLayout:
    """Sort the member names of a zip or folder into summaries, FIT payloads and nested zips."""
    norm = [(n, n.replace("\\", "/").lstrip("/")) for n in names]
    strava_roots = {
        p[: -len("activities.csv")]
        for _, p in norm
        if p.lower().rsplit("/", 1)[-1] == "activities.csv"
    }
    members: list[ExportMember] = []
    notes: list[str] = []
    old_dir_seen = False
    garmin = ExportSource.GARMIN_SUMMARY
    strava = ExportSource.STRAVA_CSV
    for name, path in norm:
        if path.endswith("/"):
            continue  # a folder entry
        lower = path.lower()
        parts = lower.split("/")
        folders, base = parts[:-1], parts[-1]
        if "di_connect" in folders:
            if "di-connect-fitness" in folders and base.endswith("summarizedactivities.json"):
                members.append(ExportMember(name, MemberRole.SUMMARY, garmin))
                continue
            upload_dirs = [d for d in folders if d in _GARMIN_UPLOAD_DIRS]
            if upload_dirs:
                old_dir_seen = old_dir_seen or _UNCONFIRMED_UPLOAD_DIR in upload_dirs
                fit = _fit_kind(lower)
                if lower.endswith(".zip"):
                    members.append(ExportMember(name, MemberRole.NESTED_ZIP, garmin))
                elif fit is not None:
                    members.append(ExportMember(name, MemberRole.FIT, garmin, gzipped=fit[1]))
                continue
        root = next((r for r in strava_roots if path.startswith(r)), None)
        if root is None:
            continue
        rest = path[len(root) :]
        if rest.lower() == "activities.csv":
            members.append(ExportMember(name, MemberRole.SUMMARY, strava))
        elif rest.lower().startswith("activities/"):
            fit = _fit_kind(lower)
            if fit is not None:
                members.append(ExportMember(name, MemberRole.FIT, strava, gzipped=fit[1]))
            elif lower.endswith(_OTHER_TRACKS):
                members.append(
                    ExportMember(name, MemberRole.UNSUPPORTED, strava, lower.endswith(".gz"))
                )
    if old_dir_seen:
        notes.append(
            "uploads found in DI-Connect-Fitness-Uploaded-Files (older, UNCONFIRMED folder name)"
        )
    kinds = {m.source for m in members}
    for source in kinds - {m.source for m in members if m.role is MemberRole.SUMMARY}:
        notes.append(f"{source.value}: activity files but no summary file")
    unsupported = sum(1 for m in members if m.role is MemberRole.UNSUPPORTED)
    if unsupported:
        notes.append(f"{unsupported} GPX/TCX activity file(s): legday reads FIT only")
    return ExportLayout(tuple(members), tuple(notes))
