"""What legday derives from stored activities: kinds, metrics, recovery flags, refresh.

Pure modules (frames and settings in, frames or dataclasses out; no I/O, no clock):

- ``classify``: run, leg_strength, strength, ride, swim or other, with the reason; its steps in
  ``set_evidence`` (what each set was) and ``tally`` (against the thresholds), its words and FIT
  categories in ``keywords``;
- ``labels``: a person's correction of a kind, applied the same way everywhere;
- ``metrics``: heart-rate zones, TRIMP and run intensity per session; ``load``: training load
  over days (CTL/ATL/TSB, ACWR), context only;
- ``recovery``: the rules that flag runs too soon after a leg session (table and citations in
  ``rules``);
- ``fatigue*``, ``evidence*``: the lower-body fatigue curve and the athlete's own evidence.

Two modules touch the store, each through its own statements in ``pipeline.store``: ``refresh``
(``derive_sql``; it decides what needs recomputing) and ``fatigue_service`` (``fatigue_sql``).
"""
