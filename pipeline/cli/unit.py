"""``legday serve --install-unit``: the systemd user unit that runs ``serve`` on boot.

``unit_text`` is pure; ``install_unit`` writes the file. I/O: the environment (``LEGDAY_*`` and
``PREFECT_API_URL`` travel into the unit), the working directory and the unit file.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from pipeline.config import Settings


def unit_text(argv: list[str], env: dict[str, str], workdir: Path) -> str:
    """A systemd user unit that runs ``argv`` (a ``legday serve`` command line) on boot."""
    lines = [
        "[Unit]",
        "Description=legday serve: FIT inbox watcher, Prefect server and flows",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={workdir}",
        *(f"Environment={shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items())),
        "ExecStart=" + " ".join(shlex.quote(a) for a in argv),
        # SIGTERM is a clean stop (watcher, runner, server); restart after any crash.
        "KillSignal=SIGTERM",
        "TimeoutStopSec=60",
        "Restart=always",
        "RestartSec=5",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def default_unit_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / "legday.service"


def install_unit(cfg: Settings, folder: Path, unit_path: Path, extra: list[str]) -> Path:
    """Write the unit for ``serve`` with this config, inbox and store; return its path."""
    legday = Path(sys.executable).with_name("legday")
    argv = [str(legday)] if legday.exists() else [sys.executable, "-m", "pipeline.cli"]
    if cfg.config_file is not None:
        argv += ["--config", str(Path(cfg.config_file).absolute())]
    argv += ["--db", str(cfg.db_path.absolute()), "serve", "--inbox", str(folder), *extra]
    env = {k: v for k, v in os.environ.items() if k.startswith("LEGDAY_") or k == "PREFECT_API_URL"}
    unit_path.parent.mkdir(parents=True, exist_ok=True)
    unit_path.write_text(unit_text(argv, env, Path.cwd()), encoding="utf-8")
    return unit_path
