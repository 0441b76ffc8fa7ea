"""House rules that keep the layers apart: one door per dependency, Prefect only at the edges."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _modules(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def _importers(name: str, *folders: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in _modules(*folders) if name in _imports(p)]


def test_only_parsing_imports_fitparse() -> None:
    assert _importers("fitparse", "pipeline", "flows") == ["pipeline/parsing.py"]


def test_only_the_store_imports_duckdb() -> None:
    assert _importers("duckdb", "pipeline", "flows") == ["pipeline/storage/store.py"]


def test_pipeline_does_not_import_prefect_or_flows_except_the_cli() -> None:
    offenders = [
        m
        for dep in ("prefect", "prefect_dask", "flows")
        for m in _importers(dep, "pipeline")
        if not Path(m).name.startswith("cli")
    ]
    assert offenders == []


def test_schema_is_declared_only_in_migrations() -> None:
    """CREATE TABLE appears in migration files only, never in Python code."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules("pipeline", "flows")
        if "CREATE TABLE"
        in p.read_text(encoding="utf-8")
        .upper()
        .replace("CREATE TABLE IF NOT EXISTS SCHEMA_MIGRATIONS", "")
    ]
    assert offenders == []


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in _modules("pipeline", "flows")
        if p.name != "fit_profile.py"
        and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []
