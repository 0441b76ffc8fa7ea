"""The recovery rule table and the studies it cites: data, no I/O.

``RULES`` lists each rule once (id, severity, the run intensities it applies to, whether it needs
a heavy or unaccustomed leg session, the ``RecoverySettings`` field that holds its window, the
evidence keys and the phrase a flag uses). ``EVIDENCE`` holds the citations behind the keys.
``pipeline.derive.recovery`` evaluates the table and documents each rule; reports cite
``EVIDENCE``. ``possible_legs`` is the one rule for possible leg sessions (strength sessions
whose region is unknown); its severity is a setting (``recovery.possible_legs_severity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.config import RecoverySettings

Severity = Literal["alert", "warning", "info"]

#: Severity order, weakest first; a missing flag ranks 0.
SEVERITY_RANK: dict[str, int] = {"info": 1, "warning": 2, "alert": 3}

INTENSE = "hard"


@dataclass(frozen=True)
class Rule:
    """One row of the rule table; ``window`` names the ``RecoverySettings`` field in hours."""

    rule_id: str
    severity: Severity
    intensities: frozenset[str]  # run intensities it applies to ('unknown' stands for null too)
    needs_heavy_or_unaccustomed: bool
    window: str
    evidence: tuple[str, ...]
    phrase: str  # completes the sentence; {t} is the threshold in hours
    #: True: the rule applies to possible leg sessions (strength, region unknown) only; the
    #: other rules apply to leg sessions only.
    possible: bool = False
    #: The ``RecoverySettings`` field that overrides ``severity``, when the severity is a setting.
    severity_setting: str | None = None

    def threshold(self, settings: RecoverySettings) -> float:
        return float(getattr(settings, self.window))

    def severity_in(self, settings: RecoverySettings) -> Severity:
        """The severity a flag of this rule gets under ``settings``."""
        if self.severity_setting is None:
            return self.severity
        value: Severity = getattr(settings, self.severity_setting)
        return value


RULES: tuple[Rule, ...] = (
    Rule(
        "same_day",
        "alert",
        frozenset({INTENSE}),
        False,
        "same_day_hours",
        ("S1", "S9"),
        "under the {t:g} h same-day threshold (strength then a hard run interferes most)",
    ),
    Rule(
        "intense_24h",
        "alert",
        frozenset({INTENSE}),
        False,
        "alert_hours",
        ("S2", "S3"),
        "under the {t:g} h alert threshold",
    ),
    Rule(
        "intense_48h",
        "warning",
        frozenset({INTENSE}),
        False,
        "warning_hours",
        ("S2", "S3", "S5"),
        "under the {t:g} h warning threshold",
    ),
    Rule(
        "intense_72h_heavy",
        "warning",
        frozenset({INTENSE}),
        True,
        "heavy_warning_hours",
        ("S11", "S4"),
        "under the {t:g} h window after a heavy or unaccustomed leg session",
    ),
    Rule(
        "easy_in_window",
        "info",
        frozenset({"easy", "moderate"}),
        False,
        "info_hours",
        ("S3",),
        "inside the {t:g} h window; fine as an easy run, not yet for a hard one",
    ),
    Rule(
        "unknown_in_window",
        "info",
        frozenset({"unknown"}),
        False,
        "info_hours",
        ("S3",),
        "inside the {t:g} h window; its intensity is unknown, so check how hard it was",
    ),
    # A strength session nothing identified (``unknown_strength = "possible"``): the leg
    # session's 48 h window, because it may have been one (issue 12: never a silent all-clear).
    Rule(
        "possible_legs",
        "warning",
        frozenset({INTENSE}),
        False,
        "warning_hours",
        ("S2", "S3"),
        "under the {t:g} h warning threshold if it was a leg session",
        possible=True,
        severity_setting="possible_legs_severity",
    ),
)

RULE_ORDER: dict[str, int] = {r.rule_id: i for i, r in enumerate(RULES)}


@dataclass(frozen=True)
class Evidence:
    """A study a rule cites: its key (``S2``), the citation and the finding the rule uses."""

    key: str
    citation: str
    finding: str


#: The evidence keys the rules cite, with their citations (domain.md section (d), table D1), word
#: for word as in the README's "Sport-science defaults" table (a test compares the two). Reports
#: explain each key they show.
EVIDENCE: dict[str, Evidence] = {
    e.key: e
    for e in (
        Evidence(
            "S1",
            "Doma & Deakin 2013, Appl Physiol Nutr Metab",
            "strength → run 6 h later costs more than the reverse order "
            "(time to exhaustion −29 % vs −18 %)",
        ),
        Evidence(
            "S2",
            "Doma et al. 2019, Sports Med Open 5:21",
            'after a lower-body 6RM session: DOMS and CMJ loss for 48 h; "at least 48 h" '
            "before running",
        ),
        Evidence(
            "S3",
            "Burt, Doma & Connor 2023, Science & Sports 38:647 (meta-analysis)",
            "high-intensity running impaired at 24 h and 48 h; low-intensity only at 48 h",
        ),
        Evidence(
            "S4",
            "Assumpção et al. 2013, Sci World J 189149",
            "impairment concerns high-intensity running; the repeated-bout effect blunts it",
        ),
        Evidence(
            "S5",
            "Marcora & Bosio 2007, Scand J Med Sci Sports 17:662",
            "30-min time trial −4 % 48 h after drop jumps",
        ),
        Evidence(
            "S9",
            "Robineau et al. 2016, J Strength Cond Res 30:672",
            "0 h / 6 h gaps interfere more than 24 h",
        ),
        Evidence(
            "S11",
            "Cheung, Hume & Maxwell 2003, Sports Med 33:145",
            "DOMS peaks 24–72 h",
        ),
    )
}
