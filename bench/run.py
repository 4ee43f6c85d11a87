"""`make bench`: run every bench/bench_*.py in turn and say where the results went.

    .venv/bin/python bench/run.py            # full sizes
    .venv/bin/python bench/run.py --quick    # small sizes (passed on to each script)
    .venv/bin/python bench/run.py core       # only bench_core.py

Each script prints its own tables; this runner also keeps each one's output in
bench/results/<script>.txt (override the folder with $BENCH_RESULTS).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description="Run the artrepo benchmarks.")
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("only", nargs="*", help="script names without bench_ and .py (default: all)")
    args = ap.parse_args()
    scripts = sorted(BENCH.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
        if not scripts:
            ap.error(f"no bench script named {', '.join(args.only)}")
    results = Path(os.environ.get("BENCH_RESULTS", BENCH / "results"))
    results.mkdir(parents=True, exist_ok=True)
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.time()
        log = results / f"{script.stem}.txt"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, str(script), *(["--quick"] if args.quick else [])],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    env={**os.environ, "BENCH_RESULTS": str(results)})
            for line in proc.stdout:
                sys.stdout.write(line)
                out.write(line)
            proc.wait()
        print(f"== {script.name}: exit {proc.returncode} in {time.time() - started:.0f} s; output in {log}",
              flush=True)
        if proc.returncode:
            failed.append(script.name)
    print(f"results: {results}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
