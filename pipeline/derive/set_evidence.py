"""What one active set of a strength session was, and what the session's own text says.

Pure, no I/O: steps 2 and 3 of ``pipeline.derive.classify``. Evidence per active set, strongest
first: the exercise-category candidates the watch wrote (a named exercise of the first guess
decides; else a region two or more candidates agree on; else the first known candidate), the
set's ``exercise_name``, the workout step it points to (category, exercise name, step name).
Sets that nothing identifies take the region of the session's text (its name and the names of
steps no set points to) when that text is unambiguous.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from pipeline.derive.keywords import CATEGORY_REGION, TextHit, match_text

Row = dict[str, Any]
#: Session titles that speak for the whole session, so they beat the names of single steps.
SESSION_TITLES = ("leg day", "lower body", "upper body", "full body")


@dataclass(frozen=True)
class SetEvidence:
    """What one active set was resolved to, and from what."""

    region: str  # lower/upper/core/full/cardio/unknown
    weight: float
    label: str  # category or keyword that decided
    via: str  # 'category', 'candidate majority', 'exercise name', 'workout step', 'session text'


def _from_candidates(categories: list[str] | None, exercise: str | None) -> SetEvidence | None:
    known = [c for c in (categories or []) if c in CATEGORY_REGION]
    if not known:
        return None
    first = known[0]
    region, weight = CATEGORY_REGION[first]
    if exercise:
        # The watch named a specific exercise of its first guess (category_subtype): that is
        # more specific than agreement between the other guesses (a burpee stays a burpee).
        return SetEvidence(region, weight, f"{first}/{exercise}", "category")
    regions = [CATEGORY_REGION[c][0] for c in known]
    counts = Counter(regions)
    top_region, top_count = counts.most_common(1)[0]
    runner_up = [n for r, n in counts.items() if r != top_region]
    clear = top_count >= 2 and (not runner_up or top_count > max(runner_up))
    if clear and top_region != regions[0]:
        cat = next(c for c in known if CATEGORY_REGION[c][0] == top_region)
        label = f"{cat} ({'/'.join(known)})"
        return SetEvidence(top_region, CATEGORY_REGION[cat][1], label, "candidate majority")
    return SetEvidence(region, weight, first, "category")


def _from_text(text: str | None, via: str) -> SetEvidence | None:
    hit = match_text(text)
    if hit is None:
        return None
    return SetEvidence(hit.region, hit.weight, f"'{text}'", via)


def _resolve_set(row: Row, step: Row | None) -> SetEvidence:
    cats = list(row.get("categories") or [])
    if not cats and row.get("category"):
        cats = [row["category"]]
    ev = _from_candidates(cats, row.get("exercise_name"))
    if ev is not None:
        return ev
    ev = _from_text(row.get("exercise_name"), "exercise name")
    if ev is not None:
        return ev
    if step is not None:
        cat = step.get("category")
        if cat in CATEGORY_REGION:
            region, weight = CATEGORY_REGION[cat]
            return SetEvidence(region, weight, f"{cat} (step {step['step_index']})", "workout step")
        for key in ("exercise_name", "name"):
            ev = _from_text(step.get(key), "workout step")
            if ev is not None:
                return ev
    return SetEvidence("unknown", 0.0, "unknown", "none")


def set_evidence(
    active: list[Row], steps: list[Row]
) -> tuple[list[tuple[Row, SetEvidence]], set[int]]:
    """Each active set with its evidence, and the indexes of the steps sets point to."""
    steps_by_index = {s["step_index"]: s for s in steps if s.get("step_index") is not None}
    used_steps: set[int] = set()
    evidence: list[tuple[Row, SetEvidence]] = []
    for s in active:
        step = steps_by_index.get(s.get("wkt_step_index"))
        if step is not None:
            used_steps.add(step["step_index"])
        evidence.append((s, _resolve_set(s, step)))
    return evidence, used_steps


def _session_text_region(texts: list[str]) -> tuple[TextHit, str] | None:
    """The region session-level text agrees on, with the phrase that shows it, or None.

    Names without a keyword are ignored; the text is unambiguous when all hits share one region.
    """
    hits = [(match_text(t), t) for t in texts]
    found = [(h, t) for h, t in hits if h is not None and h.region != "cardio"]
    if not found:
        return None
    if len({h.region for h, _ in found}) == 1:
        return max(found, key=lambda ht: ht[0].weight)
    return None


def session_text(act: Row, steps: list[Row], used_steps: set[int]) -> tuple[TextHit, str] | None:
    """The session name and the names of steps no set points to, when they agree on a region."""
    name_hit = match_text(act.get("name"))
    if name_hit is not None and name_hit.keyword in SESSION_TITLES:
        # A whole-session title the athlete chose beats guesses from individual step names.
        return name_hit, str(act["name"])
    free_steps = [
        t
        for st in steps
        if st.get("step_index") not in used_steps
        for t in (st.get("name"), st.get("exercise_name"))
        if t
    ]
    return _session_text_region(([act["name"]] if act.get("name") else []) + free_steps)


def fill_unknown(
    evidence: list[tuple[Row, SetEvidence]], session: tuple[TextHit, str] | None
) -> tuple[list[tuple[Row, SetEvidence]], int]:
    """Unidentified sets take the session text's region; returns the sets and how many did."""
    if session is None:
        return evidence, 0
    hit, text = session
    filled = 0
    out: list[tuple[Row, SetEvidence]] = []
    for s, ev in evidence:
        if ev.region == "unknown":
            ev = SetEvidence(hit.region, hit.weight, f"'{text}'", "session text")
            filled += 1
        out.append((s, ev))
    return out, filled
