"""Possible leg sessions: strength sessions whose region nothing identified (issue 12).

Pure, no I/O. Most real strength files do not say what was lifted (Garmin writes set category
65534 unless the person picked each exercise; other watches write no sets at all), so the rules
leave such a session ``strength`` with region ``unknown``. Counting it as "not legs" would give a
silent all-clear exactly where a warning may be due, so each athlete chooses
(``recovery.unknown_strength``):

* ``possible`` (default): a possible leg session. A hard run inside the leg window after it gets
  a ``possible_legs`` flag (``pipeline.derive.rules``) at ``recovery.possible_legs_severity``, and
  the legs are ``possibly recovering`` instead of ``ready`` while it is inside that window;
* ``legs``: a leg session like any other (every rule applies);
* ``not_legs``: ignored by the recovery rules.

A session stops being possible once a person labelled it, or legday learned its kind from a
label (``pipeline.derive.learned``): only the rules' own ``unknown`` counts. The windows and
their arithmetic are ``pipeline.derive.recovery``'s; this module says which sessions are
possible, why, and how a person settles each one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import polars as pl

#: The one rule that flags runs after possible leg sessions (``pipeline.derive.rules``).
POSSIBLE_RULE = "possible_legs"
#: ``legs_state``'s status while a possible leg session is inside its window.
POSSIBLY_RECOVERING = "possibly recovering"

_UNKNOWN_PREFIX = "strength, region unknown: "


class UnknownStrength(StrEnum):
    """``recovery.unknown_strength``: what a strength session of unknown region counts as."""

    POSSIBLE = "possible"
    LEGS = "legs"
    NOT_LEGS = "not_legs"


def unknown_strength() -> pl.Expr:
    """Rows the rules left ``strength`` with region ``unknown`` and no label or learned kind.

    Reads ``kind``, ``region`` and, when the frame has it, ``kind_source`` (``rules``,
    ``label`` or ``learned``; a frame without it holds the rules' kinds).
    """
    return (
        (pl.col("kind") == "strength")
        & (pl.col("region") == "unknown")
        & (pl.col("kind_source").fill_null("rules") == "rules")
    )


def why_unknown(reason: object) -> str:
    """The classification reason's own words for why the region is unknown (first clause)."""
    text = str(reason or "").strip()
    text = text.removeprefix(_UNKNOWN_PREFIX)
    return text.split(";")[0].strip() or "nothing in the file says what was trained"


@dataclass(frozen=True)
class SettleCommand:
    """A command that settles a possible leg session, and what running it says."""

    kind: str  # the kind it gives: leg_strength or strength
    command: str  # ``legday label <id> <kind>``
    meaning: str  # "it trained legs" / "it did not train legs"


def settle_commands(activity_id: str) -> tuple[SettleCommand, SettleCommand]:
    """The two commands that settle ``activity_id``: it was a leg session, or it was not."""
    return (
        SettleCommand(
            "leg_strength", f"legday label {activity_id} leg_strength", "it trained legs"
        ),
        SettleCommand("strength", f"legday label {activity_id} strength", "it did not train legs"),
    )


def settle_sentence(activity_id: str) -> str:
    """``Settle it: legday label <id> leg_strength if it trained legs, ... if not.``"""
    legs, not_legs = settle_commands(activity_id)
    return f"settle it: `{legs.command}` if it trained legs, `{not_legs.command}` if not"


@dataclass(frozen=True)
class PossibleLegSession:
    """A possible leg session a day's report asks about, with the commands that settle it."""

    activity_id: str
    name: str
    start_utc: datetime
    end_utc: datetime
    why_unknown: str
    commands: tuple[SettleCommand, ...]
    flagged_runs: tuple[str, ...]  # activity ids of the runs its ``possible_legs`` flags name
    inside_window: bool  # it keeps the legs "possibly recovering" at the report's instant


def sessions_to_settle(
    sessions: pl.DataFrame, flags: pl.DataFrame, legs: Mapping[str, Any]
) -> tuple[PossibleLegSession, ...]:
    """The possible leg sessions that matter for a day: those its flags name (rule
    ``possible_legs``) and those that keep the legs ``possibly recovering`` (``legs_state``'s
    ``possible_leg_activity_ids``), in end order.

    ``sessions`` is the recovery frame (``refresh.session_frame``) spanning those sessions;
    ``flags`` the day's ``recovery_flags`` rows; ``legs`` the day's ``legs_state``.
    """
    runs: dict[str, list[str]] = {}
    if flags.height:
        for f in flags.filter(pl.col("rule") == POSSIBLE_RULE).iter_rows(named=True):
            runs.setdefault(str(f["leg_activity_id"]), []).append(str(f["run_activity_id"]))
    in_window: Sequence[str] = legs.get("possible_leg_activity_ids") or ()
    wanted = set(runs) | set(in_window)
    if not wanted or sessions.height == 0:
        return ()
    reason_col = "kind_reason" if "kind_reason" in sessions.columns else "reason"
    rows = sessions.filter(pl.col("activity_id").is_in(sorted(wanted))).to_dicts()
    out = []
    for row in rows:
        aid = str(row["activity_id"])
        name = row.get("name")
        out.append(
            PossibleLegSession(
                activity_id=aid,
                name=name.strip() if isinstance(name, str) and name.strip() else "strength session",
                start_utc=row["start_utc"],
                end_utc=row.get("end_utc") or row["start_utc"],
                why_unknown=why_unknown(row.get(reason_col)),
                commands=settle_commands(aid),
                flagged_runs=tuple(sorted(runs.get(aid, ()))),
                inside_window=aid in in_window,
            )
        )
    out.sort(key=lambda p: (p.end_utc, p.activity_id))
    return tuple(out)
