"""A fully cached pipeline run of the working tree against the same run of another commit.

    .venv/bin/python bench/against.py 0087505 [--rounds 20]

How docs/performance.md measured each change to the cached-run path: the
10-step pipeline of bench_pipeline.py, cache filled, then `python linear.py`
with the working tree's artrepo and with `git archive REV artrepo` first on
PYTHONPATH, in turns, both compiled; `python -c "import artrepo"` of each
alongside, for the ratio the issue sets (at most 3x).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_pipeline import LINEAR, interleaved
from common import ROOT, compile_sources


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rev", help="the commit to compare with, e.g. HEAD~1")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="artrepo-against-") as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.rev, "artrepo"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        for root in (old, ROOT):
            compile_sources(root)
        project = Path(tmp) / "project"
        subprocess.run([py, "-m", "artrepo", "init", str(project)], check=True, stdout=subprocess.DEVNULL)
        (project / "linear.py").write_text(LINEAR)
        subprocess.run([py, "linear.py"], cwd=project, check=True)  # fills the cache (same keys for both)
        paths = {args.rev: str(old), "working tree": ""}
        cmds = {}
        for label, path in paths.items():  # `env` on both sides, so both pay its exec
            cmds[(label, "import")] = ["env", f"PYTHONPATH={path}", py, "-c", "import artrepo"]
            cmds[(label, "run")] = ["env", f"PYTHONPATH={path}", py, "linear.py"]
        interleaved(cmds, project, 2)  # warm-up
        t = interleaved(cmds, project, args.rounds)
    for label in paths:
        run, imp = t[(label, "run")], t[(label, "import")]
        print(f"{label:>14}: cached 10-step run {run * 1000:6.1f} ms, import artrepo {imp * 1000:5.1f} ms "
              f"= {run / imp:.2f}x")
    print(f"working tree / {args.rev}: {t[('working tree', 'run')] / t[(args.rev, 'run')]:.2f}x run time")


if __name__ == "__main__":
    main()
