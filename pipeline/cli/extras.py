"""``legday demo`` and ``legday deployments``: what an installed legday needs without a clone.

``pipeline.cli.main`` registers both on the ``legday`` app. After ``pipx install`` or
``uv tool install`` there is no ``sample_data/`` folder and no ``prefect.yaml`` next to the user:

- ``legday demo [--out DIR]`` copies the sample athlete shipped inside the package
  (``pipeline/sample_data`` in the wheel, ``sample_data/`` of a checkout) into DIR, ingests it into
  a fresh store ``DIR/data/legday.duckdb`` and writes the report of the most telling day to
  ``DIR/data/reports``, so legday can be tried in one command.
- ``legday deployments [--out FILE]`` writes the ``prefect.yaml`` of ``flows/deployments.py`` with
  entrypoints that resolve wherever legday is installed (module paths, not files of a checkout),
  and prints the ``prefect`` commands of this environment that deploy it.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown

from pipeline.cli.common import fail, now_utc, settings, state
from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError, LegdayError

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: Where the wheel puts the sample athlete (pyproject.toml, [tool.hatch.build.targets.wheel]).
PACKAGED_SAMPLES = "sample_data"
#: The sample athlete's settings file, shipped beside the FIT files.
SAMPLE_CONFIG = "legday.toml"
#: What a demo folder keeps besides the FIT files: the settings and the files that explain them.
SAMPLE_EXTRAS = (SAMPLE_CONFIG, "README.md", "expected.json")


def sample_data() -> Traversable:
    """The sample athlete's folder: inside the installed package, else a checkout's ``sample_data/``.

    An editable install (``make install``) imports ``pipeline`` from the checkout, where the files
    stay in ``sample_data/`` at the top (``make demo`` and the tests use them there).
    """
    packaged = resources.files("pipeline") / PACKAGED_SAMPLES
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "sample_data"  # pipeline/cli/ -> the top
    if checkout.is_dir():
        return checkout
    raise ConfigError(
        f"legday's sample data is missing (looked in {packaged} and {checkout}); "
        "reinstall legday from a wheel built with hatchling"
    )


def copy_samples(source: Traversable, dest: Path) -> list[Path]:
    """Copy the sample FIT files to ``dest/sample_data`` and their settings beside ``dest``.

    Returns the copied FIT files, sorted. Reading through ``Traversable`` works for any
    installation (also a zipped one), and the copy shows the user what was ingested.
    """
    fit_dir = dest / "sample_data"
    fit_dir.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name.lower().endswith(".fit"):
            target = fit_dir / item.name
            copied.append(target)
        elif item.name in SAMPLE_EXTRAS:
            target = (dest if item.name == SAMPLE_CONFIG else fit_dir) / item.name
        else:
            continue
        target.write_bytes(item.read_bytes())
    if not copied:
        raise ConfigError(f"legday's sample data in {source} holds no .fit file; reinstall legday")
    return copied


def demo(
    out: Annotated[
        Path, typer.Option(help="folder for the demo: settings, FIT files, store and reports")
    ] = Path("legday-demo"),
    workers: Annotated[int, typer.Option(help="parser processes (default: all cores)")] = 0,
) -> None:
    """Try legday on the sample athlete shipped with it: ingest, store, report. No clone needed.

    Writes OUT/legday.toml, OUT/sample_data/*.fit, the store OUT/data/legday.duckdb and the report
    of the most telling day in OUT/data/reports; the global --db and --config are not used.
    Example: legday demo --out /tmp/legday-demo
    """
    from pipeline.derive import refresh as analysis
    from pipeline.ingest import default_workers, ingest_files
    from pipeline.report import produce

    folder = out.absolute()
    if state.db or state.config or state.athlete:
        err.print(
            f"note: demo uses its own settings and store in {folder}; --db, --config and --athlete are not used"
        )
    db = folder / "data" / "legday.duckdb"
    try:
        if db.exists():
            raise ConfigError(
                f"{db} already exists: the demo starts from a fresh store; "
                f"remove {folder} or pass another --out"
            )
        files = copy_samples(sample_data(), folder)
        # Only the copied settings count: a LEGDAY_DB or ./legday.toml of the user must not
        # send the demo into their own store.
        cfg = load_settings(env={}, cwd=folder, config=folder / SAMPLE_CONFIG)
        now = now_utc()
        err.print(f"ingesting {len(files)} sample files of athlete {cfg.default_athlete!r} …")
        summary = ingest_files(
            cfg.db_path,
            [(f, cfg.default_athlete) for f in files],
            now=now,
            workers=workers or default_workers(),
        )  # FIT files only: no zip to unpack
        counts = summary.counts()
        console.print(
            f"{len(summary.outcomes)} file(s) in {summary.seconds:.1f} s → "
            f"{counts['stored']} stored, {counts['duplicate']} duplicate(s), "
            f"{counts['partial']} partial, {counts['quarantined']} quarantined  (store: {cfg.db_path})"
        )
        analysis.refresh_store(cfg, now=now)
        produced = produce.produce_report(
            cfg,
            cfg.default_athlete,
            None,
            generated_at=now,
            out_dir=cfg.data_dir / "reports",  # where later `legday report` runs write too
            timeout_s=60,
        )
    except LegdayError as exc:
        fail(exc)
        return
    if sys.stdout.isatty():
        console.print(Markdown(produced.rendered["md"]))
    else:
        sys.stdout.write(produced.rendered["md"].rstrip("\n") + "\n")
    not_stored = [o for o in summary.outcomes if o.status != "stored"]
    for o in not_stored:
        err.print(f"[red]{o.status}[/red] {Path(o.path).name}: {o.reason_code} {o.message or ''}")
    config = folder / SAMPLE_CONFIG
    err.print(
        f"report of {produced.day} ({produced.flags} flag(s)): {produced.paths['html']}\n"
        f"try: legday --config {config} status\n"
        f"     legday --config {config} report --date 2026-10-20\n"
        f'     legday --config {config} query "select * from activity_overview"'
    )
    if not_stored:
        # The shipped files are known good: anything else means a broken installation.
        err.print(
            f"[red]error:[/red] {len(not_stored)} sample file(s) not stored; reinstall legday"
        )
        raise typer.Exit(1)


def module_entrypoint(entrypoint: str) -> str:
    """``flows/inbox.py:ingest_inbox_flow`` → ``flows.inbox.ingest_inbox_flow``.

    A file entrypoint is resolved against the working directory of ``prefect deploy`` and of the
    worker, so it only works inside a checkout; Prefect 3 also loads ``package.module.flow``
    through the import system, which works wherever legday is installed. Anything else (already
    a module path, or an absolute file) is returned as it is.
    """
    if ":" not in entrypoint:
        return entrypoint
    path, func = entrypoint.rsplit(":", 1)
    if not path.endswith(".py") or Path(path).is_absolute():
        return entrypoint
    return ".".join(Path(path[: -len(".py")]).parts) + "." + func


def check_entrypoint(entrypoint: str) -> None:
    """Fail unless a module-path entrypoint names an object this environment can import."""
    module, _, name = entrypoint.rpartition(".")
    try:
        found = hasattr(importlib.import_module(module), name)
    except ImportError:
        found = False
    if not found:
        raise ConfigError(
            f"deployment entrypoint {entrypoint!r} cannot be imported here; "
            "reinstall legday or run `legday deployments` in the environment legday is installed in"
        )


def installed_prefect_yaml(settings: Settings) -> str:
    """``flows.deployments.render_yaml`` with entrypoints that resolve in an installed legday.

    When every entrypoint already is a module path, the text is returned unchanged.
    """
    import yaml  # Prefect depends on PyYAML

    from flows.deployments import render_yaml

    text = render_yaml(settings)
    doc: dict[str, Any] = yaml.safe_load(text)
    changed = False
    for deployment in doc.get("deployments") or []:
        entrypoint = module_entrypoint(deployment["entrypoint"])
        check_entrypoint(entrypoint)
        changed |= entrypoint != deployment["entrypoint"]
        deployment["entrypoint"] = entrypoint
    if not changed:
        return text
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    note = (
        "# Written by `legday deployments`: entrypoints are module paths, so they resolve wherever\n"
        "# legday is installed (pipx, uv tool, a venv), not only in a checkout.\n"
    )
    return note + header + yaml.safe_dump(doc, sort_keys=False, width=100)


def deployments(
    out: Annotated[
        Path | None, typer.Option(help="file to write, e.g. prefect.yaml (default: print it)")
    ] = None,
) -> None:
    """Write the prefect.yaml of legday's three deployments (ingest-inbox, nightly, evening-check), for `prefect deploy --all`.

    The nightly cron and time zone come from the settings (--config). Entrypoints are module
    paths, so the file works with an installed legday. Example: legday --config legday.toml
    deployments --out prefect.yaml
    """
    try:
        cfg = settings()
        text = installed_prefect_yaml(cfg)
    except LegdayError as exc:
        fail(exc)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"wrote {out}")
    # The prefect CLI of this environment: it can import legday's flows (pipx and uv tool
    # installs do not put it on PATH by default).
    prefect = Path(sys.executable).parent / "prefect"
    prefect_cmd = str(prefect) if prefect.exists() else "prefect"
    on_path = shutil.which("prefect")
    if on_path and Path(on_path).resolve() == prefect.resolve():
        prefect_cmd = "prefect"
    config = f"LEGDAY_CONFIG={cfg.config_file} " if cfg.config_file else ""
    prefect_file = f" --prefect-file {out.absolute()}" if out is not None else ""
    err.print(
        "deploy with (PREFECT_API_URL set to your server):\n"
        f"  {prefect_cmd} work-pool create legday --type process\n"
        f"  {prefect_cmd} deploy --all{prefect_file}\n"
        f"  {config}LEGDAY_INBOX=<inbox> {prefect_cmd} worker start --pool legday"
    )
