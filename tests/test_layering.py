"""House rules that keep the layers apart (README, "Architecture").

1. One door per dependency: fitparse is imported by one module of ``pipeline.fit``, duckdb by one
   module of ``pipeline.store``.
2. Prefect, typer and ``flows`` stay at the edges: only ``pipeline.cli`` may import them; the
   stages (fit, ingest, inbox, exports, derive, report, plans, store) never do.
3. No import cycles between the modules of ``pipeline`` (imports inside functions count too: a
   cycle hidden in a function is still a cycle).
4. SQL lives in ``pipeline.store``; the schema only in its numbered migrations.
5. Every module says what it is for (a docstring).
6. Errors are one tree: ``pipeline/errors.py`` draws every subclass of ``LegdayError``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("fit", "ingest", "inbox", "exports", "derive", "report", "plans", "store")
GENERATED = {"pipeline/fit/profile.py"}


def _modules(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def _dotted(p: Path) -> str:
    parts = list(p.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _tree(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once per session (every rule reads every module)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported_names(path: Path) -> set[str]:
    """Every absolute module name imported anywhere in the file, with ``from X import y`` as
    both ``X`` and ``X.y`` (``y`` may be a submodule)."""
    tree = _tree(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _top_level(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_names(path)}


def _importers(name: str, *folders: str) -> list[str]:
    return [_rel(p) for p in _modules(*folders) if name in _top_level(p)]


def test_only_one_module_imports_fitparse() -> None:
    importers = _importers("fitparse", "pipeline", "flows")
    assert len(importers) == 1 and importers[0].startswith("pipeline/fit/"), importers


def test_only_the_store_imports_duckdb() -> None:
    assert _importers("duckdb", "pipeline", "flows") == ["pipeline/store/db.py"]


def test_prefect_typer_and_flows_only_at_the_edges() -> None:
    offenders = [
        m
        for dep in ("prefect", "prefect_dask", "flows", "typer")
        for m in _importers(dep, "pipeline")
        if not m.startswith("pipeline/cli/")
    ]
    assert offenders == []


def test_stages_do_not_import_the_cli() -> None:
    offenders = [
        _rel(p)
        for stage in STAGES
        for p in _modules(f"pipeline/{stage}")
        if any(n.startswith("pipeline.cli") for n in _imported_names(p))
    ]
    assert offenders == []


def _graph() -> dict[str, set[str]]:
    mods = {_dotted(p): p for p in _modules("pipeline")}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        graph[name] = {n for n in _imported_names(path) if n in mods and n != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a cycle of the design.
    for name in graph:
        graph[name] = {n for n in graph[name] if not name.startswith(n + ".")}
    assert _cycle(graph) is None


def test_cycle_finder_finds_a_cycle() -> None:
    """The oracle of test_no_import_cycles can fail."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


_SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|COPY|ATTACH|PRAGMA|CHECKPOINT)\b"
)


def _sql_strings(path: Path) -> list[str]:
    tree = _tree(path)
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL.match(node.value) and node.value.strip().split()[0].isupper():
                out.append(node.value.strip().splitlines()[0][:60])
        elif isinstance(node, ast.JoinedStr):
            head = next((v.value for v in node.values if isinstance(v, ast.Constant)), "")
            if isinstance(head, str) and _SQL.match(head) and head.strip().split()[0].isupper():
                out.append(head.strip()[:60])
    return out


def test_sql_lives_in_the_store() -> None:
    offenders = {
        _rel(p): found
        for p in _modules("pipeline", "flows")
        if not _rel(p).startswith("pipeline/store/") and (found := _sql_strings(p))
    }
    assert offenders == {}


def test_schema_is_declared_only_in_migrations() -> None:
    """CREATE TABLE appears in migration files only, never in Python code."""
    offenders = [
        _rel(p)
        for p in _modules("pipeline", "flows")
        if "CREATE TABLE"
        in p.read_text(encoding="utf-8")
        .upper()
        .replace("CREATE TABLE IF NOT EXISTS SCHEMA_MIGRATIONS", "")
    ]
    assert offenders == []


def test_every_module_has_a_docstring() -> None:
    missing = [
        _rel(p)
        for p in _modules("pipeline", "flows")
        if _rel(p) not in GENERATED and ast.get_docstring(_tree(p)) is None
    ]
    assert missing == []


def test_modules_stay_small() -> None:
    """A module over ~400 lines is doing several jobs (the generated profile excepted)."""
    big = {
        _rel(p): n
        for p in _modules("pipeline", "flows")
        if _rel(p) not in GENERATED and (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert big == {}


def _drawn_errors() -> set[str]:
    """The class names drawn in the tree of ``pipeline/errors.py``'s docstring."""
    from pipeline import errors

    drawing = (errors.__doc__ or "").split("\n\n")[1]
    return {m.group(1) for m in re.finditer(r"^[\s│├└─]*([A-Z]\w+)\b", drawing, re.MULTILINE)}


def _error_classes() -> set[str]:
    """Every subclass of ``LegdayError`` defined in ``pipeline`` (all modules imported)."""
    import pipeline
    from pipeline.errors import LegdayError

    for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        if info.name not in ("pipeline.cli.__main__",):  # running it would start the app
            importlib.import_module(info.name)
    found: set[str] = set()
    todo: list[type] = [LegdayError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("pipeline."):
            found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def test_the_error_tree_draws_every_error_and_nothing_else() -> None:
    drawn = _drawn_errors()
    assert "LegdayError" in drawn and "StoreBusy" in drawn  # the drawing is read at all
    assert drawn == _error_classes()
