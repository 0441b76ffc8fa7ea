"""The DuckDB store: the only duckdb importer, every SQL statement, the migrations."""
