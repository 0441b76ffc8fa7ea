"""Planned workouts: reading plans in and checking what is coming up."""
