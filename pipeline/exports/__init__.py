"""Summaries from Garmin and Strava bulk exports: titles, types and exercise summaries."""
