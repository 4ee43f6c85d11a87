"""Shared pieces of the bench scripts: scratch space, timing, tables, test data.

Every figure is a ratio against a baseline measured in the same process, in
the same run, interleaved with the artrepo measurement (the machine's disk
and memory swing from run to run; see docs/performance.md).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
GiB = 1 << 30


def scratch(name: str) -> Path:
    """A fresh scratch folder under $BENCH_SCRATCH (default /tmp/artrepo-bench)."""
    base = Path(os.environ.get("BENCH_SCRATCH", "/tmp/artrepo-bench"))
    folder = base / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def compile_sources(root: Path | str = ROOT) -> None:
    """Compile artrepo's sources under `root` as an installed package has them: with
    PYTHONDONTWRITEBYTECODE (set on the team's machines) every measured process would compile them again."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(root) / "artrepo")], check=True)


def settle() -> None:
    """Flush dirty pages so one measurement's writeback does not land in the next."""
    os.sync()
    time.sleep(0.2)


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def summary(times: list[float]) -> dict:
    """First run and the median of the others (first runs pay for fresh memory here)."""
    rest = times[1:] or times
    return {"first": times[0], "median": statistics.median(rest), "runs": times}


def folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def new_project(folder: Path) -> Path:
    """An initialized artrepo project, made the working directory and active repository."""
    from artrepo import repository
    from artrepo.repository import Repository

    for repo in repository._OPEN.values():
        repo.close()
    repository._OPEN.clear()
    shutil.rmtree(folder, ignore_errors=True)
    Repository.init(folder).close()
    os.chdir(folder)
    return folder


def make_df(rows: int, seed: int = 0, start: int = 0):
    """The 9-column frame of research/bench-results.md (10 M rows ~ 790 MB in memory).

    int64 x2, int32, float64 x2 (rounded prices, normal), a 20-level
    categorical, two string columns (20 country codes, Zipf; 100 k SKUs) and
    a datetime64[us]. `start` offsets the ids and timestamps (for appends).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    countries = np.array([f"C{i:02d}" for i in range(20)])
    zipf = np.minimum(rng.zipf(1.6, rows), 20) - 1
    skus = np.array([f"SKU-{i:06d}" for i in range(100_000)])
    return pd.DataFrame({
        "id": np.arange(start, start + rows, dtype=np.int64),
        "user": rng.integers(0, 1_000_000, rows, dtype=np.int64),
        "qty": rng.integers(1, 50, rows, dtype=np.int32),
        "price": np.round(rng.gamma(2.0, 20.0, rows), 2),
        "score": rng.normal(0.0, 1.0, rows),
        "category": pd.Categorical.from_codes(rng.integers(0, 20, rows), [f"cat{i}" for i in range(20)]),
        "country": pd.array(countries[zipf], dtype="str"),
        "sku": pd.array(skus[rng.integers(0, len(skus), rows)], dtype="str"),
        "ts": pd.to_datetime(1_700_000_000_000_000 + (np.arange(start, start + rows) * 1_000_000), unit="us"),
    }, index=pd.RangeIndex(start, start + rows))


def run_child(code: str, cwd: Path | None = None) -> dict:
    """Run Python `code` in a fresh interpreter; it prints one JSON object last."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Table:
    """Rows of (figure, target, measured, verdict), printed as Markdown."""

    def __init__(self, title: str):
        self.title = title
        self.rows: list[dict] = []

    def add(self, figure: str, target: str, measured: str, ok: bool | None, **raw) -> None:
        verdict = "n/a" if ok is None else ("pass" if ok else "FAIL")
        self.rows.append({"figure": figure, "target": target, "measured": measured, "verdict": verdict, **raw})
        print(f"  {figure}: {measured} (target {target}) -> {verdict}", flush=True)

    def render(self) -> str:
        lines = [f"### {self.title}", "", "| figure | target | measured | result |", "|---|---|---|---|"]
        lines += [f"| {r['figure']} | {r['target']} | {r['measured']} | {r['verdict']} |" for r in self.rows]
        return "\n".join(lines)


def save_results(name: str, tables: list[Table], extra: dict) -> Path:
    """JSON beside the printed tables: $BENCH_RESULTS or bench/results/<name>.json."""
    out = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": sys.version.split()[0],
           "tables": {t.title: t.rows for t in tables}, **extra}
    path.write_text(json.dumps(doc, indent=1, default=str))
    return path
