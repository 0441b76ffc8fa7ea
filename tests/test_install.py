"""legday installed from a wheel, without the clone: what the wheel holds and what runs from it.

The wheel is built once per session (``pip wheel --no-deps``, a few seconds) and installed into a
fresh venv under a temporary folder. The venv gets its dependencies from the project's ``.venv``
through a ``.pth`` line (a full dependency install would need the network and a minute); the
checkout itself is never on its path, so ``pipeline``, ``flows`` and their data files come from
the wheel alone, which the tests check before trusting anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

from pipeline.cli.extras import module_entrypoint, sample_data

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("legday-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed (no deps) and ``.venv``'s packages visible; its bin dir."""
    home = tmp_path_factory.mktemp("installed")
    env_dir = home / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    bin_dir = env_dir / "bin"
    site = Path(
        subprocess.run(
            [
                str(bin_dir / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Appended after the venv's own site-packages, and the .pth files of .venv (the editable
    # install that points at the checkout) are not processed this way.
    (site / "zz_deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(bin_dir / "python"),
            "install",
            "--no-deps",
            "--quiet",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return bin_dir


def _run(
    bin_dir: Path, *args: str, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEGDAY_", "PYTHON"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_module_entrypoint_turns_checkout_files_into_module_paths() -> None:
    assert module_entrypoint("flows/inbox.py:ingest_inbox_flow") == "flows.inbox.ingest_inbox_flow"
    assert module_entrypoint("flows/nightly.py:nightly_flow") == "flows.nightly.nightly_flow"
    assert module_entrypoint("flows.nightly.nightly_flow") == "flows.nightly.nightly_flow"
    assert module_entrypoint("/abs/flow.py:f") == "/abs/flow.py:f"


def test_sample_data_in_a_checkout_is_the_sample_data_folder() -> None:
    found = sample_data()
    names = sorted(t.name for t in found.iterdir() if t.name.endswith(".fit"))
    assert names == sorted(p.name for p in SAMPLES.glob("*.fit"))
    assert len(names) == 16


def test_wheel_holds_what_installed_use_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
        entry_points = members[next(n for n in members if n.endswith("entry_points.txt"))]
    for fit in SAMPLES.glob("*.fit"):
        assert _sha(members[f"pipeline/sample_data/{fit.name}"]) == _sha(fit.read_bytes()), fit.name
    packaged_fits = [
        n for n in members if n.startswith("pipeline/sample_data/") and n.endswith(".fit")
    ]
    assert len(packaged_fits) == len(list(SAMPLES.glob("*.fit"))) == 16
    for name in ("legday.toml", "expected.json", "README.md"):
        assert members[f"pipeline/sample_data/{name}"] == (SAMPLES / name).read_bytes()
    assert "pipeline/sample_data/generate.py" not in members  # needs the dev-only SDK
    for sql in (ROOT / "pipeline" / "storage" / "migrations").glob("*.sql"):
        assert members[f"pipeline/store/migrations/{sql.name}"] == sql.read_bytes()
    assert (
        members["pipeline/report/schema.json"]
        == (ROOT / "pipeline/report/schema.json").read_bytes()
    )
    for module in ("flows/inbox.py", "flows/nightly.py", "flows/deployments.py"):
        assert module in members
    assert b"legday = pipeline.cli.main:app" in entry_points


def test_demo_runs_from_the_installed_wheel_alone(installed: Path, tmp_path: Path) -> None:
    where = _run(
        installed,
        str(installed / "python"),
        "-c",
        "import pipeline, flows; print(pipeline.__file__, flows.__file__)",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout and str(installed.parent) in where.stdout

    demo = _run(installed, "legday", "demo", "--out", "try", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "16 stored" in demo.stdout
    assert list((tmp_path / "try" / "data" / "reports" / "sam").glob("*.html"))

    config = str(tmp_path / "try" / "legday.toml")
    kinds = _run(
        installed,
        "legday",
        "--config",
        config,
        "query",
        "-f",
        "json",
        "select f.original_name, o.kind from activity_overview o "
        "join files f on f.sha256 = o.file_sha256 and f.athlete_id = o.athlete_id",
        cwd=tmp_path,
    )
    assert kinds.returncode == 0, kinds.stderr
    expected = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))["files"]
    got = {row["original_name"]: row["kind"] for row in json.loads(kinds.stdout)}
    assert got == {name: f["kind"] for name, f in expected.items()}

    again = _run(installed, "legday", "demo", "--out", "try", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_prefect_yaml_of_an_installed_legday_loads_its_flows(
    installed: Path, tmp_path: Path
) -> None:
    (tmp_path / "legday.toml").write_bytes((SAMPLES / "legday.toml").read_bytes())
    wrote = _run(
        installed,
        "legday",
        "--config",
        "legday.toml",
        "deployments",
        "--out",
        "prefect.yaml",
        cwd=tmp_path,
    )
    assert wrote.returncode == 0, wrote.stderr
    doc = yaml.safe_load((tmp_path / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in doc["deployments"]}
    assert set(by_name) == {"ingest-inbox", "nightly", "evening-check"}
    assert by_name["nightly"]["schedules"][0]["timezone"] == "Europe/Berlin"
    # What `prefect deploy` and the worker do with an entrypoint, from a folder without the clone.
    entrypoints = [d["entrypoint"] for d in doc["deployments"]]
    load = _run(
        installed,
        str(installed / "python"),
        "-c",
        "import sys; from prefect.flows import load_flow_from_entrypoint as load; "
        "print([load(e, use_placeholder_flow=False).name for e in sys.argv[1:]])",
        *entrypoints,
        cwd=tmp_path,
    )
    assert load.returncode == 0, load.stderr
    assert "ingest-inbox" in load.stdout and "nightly" in load.stdout
