"""The legday command line: the edge of the house.

``main`` builds the typer app and registers the commands; ``common`` holds what they share
(consoles, global options, settings, errors); ``group`` parses global options anywhere; one
module per group of commands (``ingest_cmd``, ``query_cmd``, ``report_cmd``, ``serve``,
``extras``); ``prefect_local`` and ``unit`` are the machinery of ``serve``. Nothing imports
``main`` back, so there is no import cycle.
"""
