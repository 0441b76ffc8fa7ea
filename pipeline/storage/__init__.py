"""Storage: the DuckDB store (``store``) and its numbered migrations (``migrations``)."""
