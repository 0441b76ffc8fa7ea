"""How much legday knows about an athlete's strength sessions: verdict by evidence (issue 12).

Pure, no I/O. Each strength session ends as a leg session, not a leg session, or a *possible*
leg session (``pipeline.derive.possible_legs``), and one kind of evidence decided it
(``EvidenceSource``). ``count_known`` counts the sessions of a period by both, from the rows
``pipeline.store.evidence_counts_sql.strength_sessions`` reads; ``legday status`` and the
report show the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import polars as pl

from pipeline.config import RecoverySettings
from pipeline.derive.possible_legs import UnknownStrength

#: Days the counts look back from their instant.
KNOWN_DAYS = 28


class EvidenceSource(StrEnum):
    """What decided a strength session's kind (``classifications.evidence`` for the rules')."""

    SETS = "sets"  # what the set messages (or the workout steps they point to) say was lifted
    NAMES = "names"  # the session's name or step names alone
    SUMMARY = "summary"  # a Garmin/Strava export summary (title, exercise summary)
    LABEL = "label"  # the person said so (``legday label``)
    LEARNED = "learned"  # carried over from a label on a session like it (``derive.learned``)
    NONE = "none"  # nothing: region unknown


class Verdict(StrEnum):
    """What a strength session counts as for the recovery rules."""

    LEGS = "legs"
    NOT_LEGS = "not_legs"
    POSSIBLE = "possible"


#: The ``strength_sessions`` rows ``count_known`` reads.
KNOWN_ROWS_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),  # effective kind (label, learned, rules)
    "region": pl.String(),  # the rules' region
    "kind_source": pl.String(),  # label, learned or rules
    "evidence": pl.String(),  # the rules' evidence (sets, names, summary, none); null: older row
}


@dataclass(frozen=True)
class KnownCounts:
    """Strength sessions of ``days`` days up to ``until_utc`` by verdict and by evidence."""

    athlete_id: str
    until_utc: datetime
    days: int
    unknown_strength: str  # the setting the verdicts were read with
    by_verdict: dict[str, int]  # every ``Verdict`` value, 0 included
    by_evidence: dict[str, int]  # every ``EvidenceSource`` value, 0 included
    cells: dict[tuple[str, str], int]  # (verdict, evidence) -> sessions, non-zero only
    unknown_region: int  # sessions the rules left region unknown, unsettled by any label

    @property
    def total(self) -> int:
        return sum(self.by_verdict.values())

    @property
    def all_from_files(self) -> bool:
        """Every session was identified by its own file: nothing possible, labelled, learned
        or decided by an export summary."""
        ev = self.by_evidence
        return self.unknown_region == 0 and all(
            ev[e] == 0
            for e in (EvidenceSource.LABEL, EvidenceSource.LEARNED, EvidenceSource.SUMMARY)
        )

    def mode_sentence(self) -> str | None:
        """What the setting made of the unknown sessions, when it was not ``possible``."""
        if self.unknown_region == 0 or self.unknown_strength == UnknownStrength.POSSIBLE:
            return None
        counted = "leg sessions" if self.unknown_strength == UnknownStrength.LEGS else "not legs"
        return (
            f"{self.unknown_region} strength session(s) of unknown region counted as {counted} "
            f"(unknown_strength = {self.unknown_strength})"
        )

    def sentence(self) -> str:
        """``9 strength sessions in 28 days: 3 legs, 2 not legs, 4 possible; by evidence: ...``"""
        v = self.by_verdict
        ev = ", ".join(f"{k} {n}" for k, n in self.by_evidence.items() if n) or "none"
        return (
            f"{self.total} strength session(s) in {self.days} days: {v['legs']} legs, "
            f"{v['not_legs']} not legs, {v['possible']} possible; by evidence: {ev}"
        )


def _evidence(row: dict[str, object]) -> EvidenceSource:
    source = row.get("kind_source")
    if source == "label":
        return EvidenceSource.LABEL
    if source == "learned":
        return EvidenceSource.LEARNED
    value = row.get("evidence")
    if isinstance(value, str) and value in EvidenceSource.__members__.values():
        return EvidenceSource(value)
    return EvidenceSource.NONE if row.get("region") == "unknown" else EvidenceSource.SETS


def _unknown(row: dict[str, object]) -> bool:
    return (
        row.get("kind") == "strength"
        and row.get("region") == "unknown"
        and row.get("kind_source") in (None, "rules")
    )


def _verdict(row: dict[str, object], mode: UnknownStrength) -> Verdict:
    if row.get("kind") == "leg_strength":
        return Verdict.LEGS
    if _unknown(row):
        return {
            UnknownStrength.POSSIBLE: Verdict.POSSIBLE,
            UnknownStrength.LEGS: Verdict.LEGS,
            UnknownStrength.NOT_LEGS: Verdict.NOT_LEGS,
        }[mode]
    return Verdict.NOT_LEGS


def known_since(until_utc: datetime, days: int = KNOWN_DAYS) -> datetime:
    """The start of the period the counts cover: ``days`` days of elapsed time before."""
    return until_utc - timedelta(days=days)


def count_known(
    athlete_id: str,
    rows: pl.DataFrame,
    settings: RecoverySettings,
    until_utc: datetime,
    days: int = KNOWN_DAYS,
) -> KnownCounts:
    """Count ``rows`` (``KNOWN_ROWS_SCHEMA``: the strength sessions of the period)."""
    mode = UnknownStrength(settings.unknown_strength)
    cells: dict[tuple[str, str], int] = {}
    unknown = 0
    for row in rows.iter_rows(named=True):
        if row.get("kind") not in ("leg_strength", "strength"):
            continue
        unknown += _unknown(row)
        key = (_verdict(row, mode).value, _evidence(row).value)
        cells[key] = cells.get(key, 0) + 1
    by_verdict = {v.value: sum(n for (vv, _), n in cells.items() if vv == v) for v in Verdict}
    by_evidence = {
        e.value: sum(n for (_, ee), n in cells.items() if ee == e) for e in EvidenceSource
    }
    return KnownCounts(
        athlete_id, until_utc, days, mode.value, by_verdict, by_evidence, cells, unknown
    )
