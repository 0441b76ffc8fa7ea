"""Drop → stored latency of a running ``legday serve`` (the figure in the README).

Drops complete FIT files one at a time into the served inbox: each is copied under a dotfile
name (ignored by the watcher) and renamed into place, which is the drop; the time runs until the
file has left the inbox, which happens only after its outcome is committed to the store.

    legday --config legday.toml serve --inbox /tmp/inbox &
    python scripts/serve_latency.py --inbox /tmp/inbox --drops 20
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.inbox import probe_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, required=True)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument(
        "--corpus", type=Path, default=ROOT.parent / "shared" / "fit-corpus" / "files"
    )
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between drops")
    args = parser.parse_args()
    files = [
        p
        for p in sorted(args.corpus.glob("*.fit"))
        if (probe := probe_file(p)) is not None and probe.state == "complete"
    ][: args.drops]
    times = []
    for src in files:
        tmp = args.inbox / (".drop-" + src.name)
        shutil.copy(src, tmp)
        t0 = time.monotonic()
        tmp.rename(args.inbox / src.name)
        while (args.inbox / src.name).exists() and time.monotonic() - t0 < 300:
            time.sleep(0.05)
        times.append(time.monotonic() - t0)
        print(f"{src.name[:60]:60s} {times[-1]:5.1f} s", flush=True)
        time.sleep(args.pause)
    print(
        f"n={len(times)} median {statistics.median(times):.1f} s, "
        f"min {min(times):.1f} s, max {max(times):.1f} s"
    )


if __name__ == "__main__":
    main()
