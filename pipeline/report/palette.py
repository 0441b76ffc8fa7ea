"""The report's colours and kind names, shared by the page, the index and the figures. Pure data."""

from __future__ import annotations

SEVERITY_COLOURS = {"alert": "#c62828", "warning": "#e65100", "info": "#1565c0"}
INTENSITY_COLOURS = {
    "easy": "#2e7d32",
    "moderate": "#f9a825",
    "hard": "#c62828",
    "unknown": "#9e9e9e",
}
ZONE_COLOURS = ("#eceff1", "#bbdefb", "#c8e6c9", "#ffe0b2", "#ffcdd2")
KIND_ORDER = ("run", "leg_strength", "strength", "ride", "swim", "other")
KIND_LABELS = {
    "run": "Run",
    "leg_strength": "Leg strength",
    "strength": "Other strength",
    "ride": "Ride",
    "swim": "Swim",
    "other": "Other",
}
LEG_COLOURS = {True: "#6a1b9a", False: "#ba68c8"}  # heavy, not heavy
OTHER_COLOUR = "#78909c"
OK_COLOUR = "#2e7d32"  # no flags; legs ready
RECOVERING_COLOUR = "#e65100"
NEUTRAL_COLOUR = "#555"  # a severity the palette does not know
#: Leg regions of the fatigue curve (issue 14), in the order the model lists them.
REGION_COLOURS = {"quadriceps": "#1565c0", "posterior_chain": "#6a1b9a", "calves": "#00897b"}
