"""What makes two strength sessions alike: their title, their workout's name, their set signature.

Pure, no I/O. ``pipeline.derive.classify`` stores these three keys with each classification
(``classifications.set_signature``, ``workout_name``; the title is the activity's ``name``) and
``pipeline.derive.learned`` carries a person's label over to the sessions that share one.

* **title**: the session's name (``activities.name``) or, when that gives no key, the title of
  an export summary matched to it (``session_title_key``), lower-cased with runs of spaces
  collapsed. Names a device gives by itself ("Strength",
  "Strength Training", "Munich Strength", "Workout") say nothing about a program, so they are
  no key (``GENERIC_TITLE``).
* **workout name**: the name of the workout the watch followed (``wkt_name``), compared the
  same way.
* **set signature**: the active sets in order, consecutive equal sets as one block
  ``<count>x<reps>@<load>``: ``3x5@100|3x8@60|2x12@bw``. Loads are rounded to
  ``LOAD_STEP_KG`` (a plate step; pounds converted to kilograms land on the same value),
  ``bw`` means no load, ``?`` unknown reps. A session with fewer than ``MIN_SIGNATURE_SETS``
  active sets, or without a single known rep count, has no signature: too little to tell one
  program from another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]

#: Load rounding of the set signature, kg.
LOAD_STEP_KG = 2.5
#: Fewest active sets that make a signature.
MIN_SIGNATURE_SETS = 3

#: Titles a device or service writes by itself: an optional place, then the sport's name.
GENERIC_TITLE = re.compile(
    r"^(?:.+ )?(?:strength(?: training)?|training|workout|weights?|gym|krafttraining|"
    r"musculation|entrenamiento de fuerza|fuerza|allenamento|untitled)$"
)


def _norm(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    out = " ".join(text.lower().split())
    return out or None


def title_key(name: object) -> str | None:
    """A session title as a matching key, or None (empty, or a name the device gave)."""
    key = _norm(name)
    if key is None or GENERIC_TITLE.match(key):
        return None
    return key


def session_title_key(name: object, summary_title: object = None) -> str | None:
    """The title key of a session: its FIT name's, else its export summary title's."""
    return title_key(name) or title_key(summary_title)


def workout_name(steps: Iterable[Row]) -> str | None:
    """The name of the workout a session followed (the ``workout`` row of its steps)."""
    for st in steps:
        if st.get("source") == "workout" and _norm(st.get("name")):
            return str(st["name"]).strip()
    return None


def workout_key(name: object) -> str | None:
    """A workout name as a matching key (generic names excluded like titles)."""
    return title_key(name)


def _load(weight: object) -> str:
    if not isinstance(weight, int | float) or weight <= 0:
        return "bw"
    # A light load (a 1 kg plate) stays a load: it rounds up to the first step, not to 0.
    rounded = max(1, round(float(weight) / LOAD_STEP_KG)) * LOAD_STEP_KG
    return f"{rounded:g}"


def set_signature(active: list[Row]) -> str | None:
    """The signature of a session's active sets (in set order), or None when too weak."""
    if len(active) < MIN_SIGNATURE_SETS:
        return None
    if all(s.get("repetitions") is None for s in active):
        return None
    blocks: list[list[Any]] = []
    for s in active:
        reps = s.get("repetitions")
        unit = (str(reps) if reps is not None else "?", _load(s.get("weight_kg")))
        if blocks and blocks[-1][1] == unit:
            blocks[-1][0] += 1
        else:
            blocks.append([1, unit])
    return "|".join(f"{n}x{reps}@{load}" for n, (reps, load) in blocks)
