"""Core figures of issue 2: array save/load, dedup, DataFrames, memory, start-up.

    .venv/bin/python bench/bench_core.py            # full sizes (1 GiB arrays, 10 M rows): ~6 min
    .venv/bin/python bench/bench_core.py --quick    # small sizes, ~1 min
    .venv/bin/python bench/bench_core.py --only array,dedup

Each artrepo figure is a ratio against a baseline measured in this process,
interleaved with it: np.save + fsync to the same disk, np.load from the page
cache, df.to_parquet / pd.read_parquet, `python -c "import pygit2"`.
Results: printed tables, plus JSON in bench/results/core.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (GiB, MiB, ROOT, Table, folder_bytes, make_df, new_project,  # noqa: E402
                    run_child, save_results, scratch, settle, summary, timed)

SECTIONS = ("array", "dedup", "dataframe", "memory", "startup")


def store_bytes(project: Path) -> int:
    return folder_bytes(project / ".artrepo")


def fmt_s(x: float) -> str:
    return f"{x:.3f} s"


# -- 1 GiB array: save, re-save, load --------------------------------------------------------
def bench_array(size: int, repeat: int, tmp: Path) -> Table:
    import numpy as np

    import artrepo

    t = Table(f"float64 array, {size / GiB:g} GiB")
    arr = np.random.default_rng(2).random(size // 8)
    base_save, art_save, art_resave, new_chunks = [], [], [], []
    for r in range(repeat):
        # Both write new files and nothing is deleted until the end: this disk
        # writes blocks it has just freed (and discarded) several times faster
        # or slower than others, so deleting between rounds skews either side.
        npy = tmp / f"baseline-{r}.npy"
        settle()
        with open(npy, "wb") as f:
            dt, _ = timed(lambda: (np.save(f, arr), f.flush(), os.fsync(f.fileno())))
        base_save.append(dt)
        project = new_project(tmp / f"proj-{r}")
        settle()
        art_save.append(timed(artrepo.save_artifact, arr, name="arr")[0])
        before = folder_bytes(project / ".artrepo" / "chunks")
        settle()
        art_resave.append(timed(artrepo.save_artifact, arr, name="arr")[0])
        new_chunks.append(folder_bytes(project / ".artrepo" / "chunks") - before)
    # Loads: both from the page cache, alternating, each into a fresh array.
    base_load, art_load = [], []
    np.load(npy)
    for _ in range(repeat + 1):
        base_load.append(timed(np.load, npy)[0])
        loaded = None
        dt, loaded = timed(artrepo.load_artifact, "arr")
        art_load.append(dt)
    assert np.array_equal(loaded, arr), "artrepo returned different data"
    del loaded
    bs, sv, rs = summary(base_save), summary(art_save), summary(art_resave)
    bl, al = summary(base_load), summary(art_load)
    gbs = size / 1e9
    save_ratio = bs["median"] / sv["median"]
    t.add("save throughput vs np.save+fsync", ">= 0.5x",
          f"{save_ratio:.2f}x ({gbs / sv['median']:.2f} vs {gbs / bs['median']:.2f} GB/s; "
          f"first {fmt_s(sv['first'])} vs {fmt_s(bs['first'])})", save_ratio >= 0.5,
          artrepo=sv, baseline=bs)
    load_ratio = bl["median"] / al["median"]
    t.add("load throughput vs np.load (page cache)", ">= 0.4x",
          f"{load_ratio:.2f}x ({gbs / al['median']:.2f} vs {gbs / bl['median']:.2f} GB/s; "
          f"first {fmt_s(al['first'])} vs {fmt_s(bl['first'])})", load_ratio >= 0.4,
          artrepo=al, baseline=bl)
    resave_share = rs["median"] / sv["median"]
    t.add("re-save identical data: time / first save", "<= 0.5",
          f"{resave_share:.2f} ({fmt_s(rs['median'])} vs {fmt_s(sv['median'])})", resave_share <= 0.5, resave=rs)
    t.add("re-save identical data: new chunk bytes", "0", f"{max(new_chunks)} B", max(new_chunks) == 0)
    for r in range(repeat):
        shutil.rmtree(tmp / f"proj-{r}", ignore_errors=True)
        (tmp / f"baseline-{r}.npy").unlink()
    return t


# -- dedup ------------------------------------------------------------------------------------
def growth(project: Path, save) -> int:
    before = store_bytes(project)
    save()
    return store_bytes(project) - before


def bench_dedup(sizes: list[int], df_rows: int, tmp: Path) -> Table:
    import numpy as np

    import artrepo

    t = Table("dedup: store growth of a second version")
    for size in sizes:
        project = new_project(tmp / "proj")
        arr = np.random.default_rng(3).random(size // 8)
        artrepo.save_artifact(arr, name="arr")
        mid = arr.size // 2
        arr[mid:mid + MiB // 8] = np.random.default_rng(4).random(MiB // 8)
        grown = growth(project, lambda: artrepo.save_artifact(arr, name="arr"))
        t.add(f"overwrite 1 MiB in the middle, {size / MiB:g} MiB array", "<= 4 MiB",
              f"{grown / MiB:.2f} MiB", grown <= 4 * MiB)
        del arr
        cols = 128  # rows of 1 KiB: 1,000 rows are 1000 KiB
        two_d = np.random.default_rng(5).random((size // 8 // cols, cols))
        artrepo.save_artifact(two_d, name="two_d")
        inserted = np.concatenate([np.random.default_rng(6).random((1000, cols)), two_d])
        del two_d
        grown = growth(project, lambda: artrepo.save_artifact(inserted, name="two_d"))
        limit = 0.02 if size >= GiB else 0.06
        t.add(f"insert 1,000 rows (of 128 float64) at the front, {size / MiB:g} MiB 2-D array",
              f"<= {limit:.0%}", f"{grown / MiB:.2f} MiB = {grown / size:.2%}", grown <= limit * size)
        del inserted
    shutil.rmtree(tmp / "proj", ignore_errors=True)
    project = new_project(tmp / "proj")
    df = make_df(df_rows)
    first = growth(project, lambda: artrepo.save_artifact(df, name="df"))
    extra = make_df(df_rows // 100, seed=1, start=df_rows)
    import pandas as pd

    appended = pd.concat([df, extra])
    del df
    grown = growth(project, lambda: artrepo.save_artifact(appended, name="df"))
    t.add(f"append 1% rows to a {df_rows / 1e6:g}M-row DataFrame", _at_size("<= 10%", df_rows, 5_000_000),
          f"{grown / MiB:.1f} MiB = {grown / first:.1%} of the first version's {first / MiB:.0f} MiB",
          _judged(grown <= 0.10 * first, df_rows, 5_000_000))
    shutil.rmtree(tmp / "proj", ignore_errors=True)
    return t


# -- DataFrame save/load and the Parquet codec decision ---------------------------------------
def bench_dataframe(rows: int, repeat: int, tmp: Path) -> tuple[Table, Table]:
    import pandas as pd

    import artrepo
    from artrepo.materializers.pandas import PandasMaterializer

    t = Table(f"DataFrame, {rows / 1e6:g}M rows x 9 columns")
    df = make_df(rows)
    mem = df.memory_usage(deep=True).sum()
    pq_file = tmp / "baseline.parquet"
    base_save, art_save, base_load, art_load = [], [], [], []
    for _ in range(repeat):
        settle()
        base_save.append(timed(df.to_parquet, pq_file)[0])
        new_project(tmp / "proj")
        settle()
        art_save.append(timed(artrepo.save_artifact, df, name="df")[0])
    for _ in range(repeat):
        base_load.append(timed(pd.read_parquet, pq_file)[0])
        dt, loaded = timed(artrepo.load_artifact, "df")
        art_load.append(dt)
    assert loaded.equals(df), "artrepo returned a different frame"
    del loaded
    bs, sv, bl, al = summary(base_save), summary(art_save), summary(base_load), summary(art_load)
    r = sv["median"] / bs["median"]
    t.add(f"save ({mem / 1e6:.0f} MB in memory) vs df.to_parquet", _at_size("<= 1.5x", rows, 10_000_000),
          f"{r:.2f}x ({fmt_s(sv['median'])} vs {fmt_s(bs['median'])})", _judged(r <= 1.5, rows, 10_000_000),
          artrepo=sv, baseline=bs)
    r = al["median"] / bl["median"]
    t.add("load vs pd.read_parquet", _at_size("<= 1.5x", rows, 10_000_000),
          f"{r:.2f}x ({fmt_s(al['median'])} vs {fmt_s(bl['median'])})", _judged(r <= 1.5, rows, 10_000_000),
          artrepo=al, baseline=bl)

    codecs = Table(f"Parquet codec inside artrepo ({rows / 1e6:g}M-row save, then +1% rows)")
    extra = make_df(rows // 100, seed=1, start=rows)
    appended = pd.concat([df, extra])
    for codec in ("none", "snappy", "zstd"):
        mat = type(f"Pandas_{codec}", (PandasMaterializer,), {"PARQUET_COMPRESSION": codec})
        project = new_project(tmp / "proj")
        settle()
        dt, _ = timed(artrepo.save_artifact, df, name="df", materializer=mat)
        first = store_bytes(project)
        grown = growth(project, lambda: artrepo.save_artifact(appended, name="df", materializer=mat))
        codecs.add(f"compression={codec!r}", "(decide)",
                   f"save {fmt_s(dt)} = {dt / bs['median']:.2f}x to_parquet; stored {first / MiB:.0f} MiB; "
                   f"+1% rows adds {grown / first:.1%}", None, save_s=dt, stored=first, growth=grown)
    shutil.rmtree(tmp / "proj", ignore_errors=True)
    pq_file.unlink()
    return t, codecs


# -- peak memory, each in a fresh child process ------------------------------------------------
MEMORY_CHILD = """  # peak resident memory of one save or load, in a fresh interpreter
import json, os, sys
import numpy as np
import artrepo
os.chdir(sys.argv[1] if len(sys.argv) > 1 else {project!r})
mode, size = {mode!r}, {size}
arr = np.random.default_rng(2).random(size // 8) if mode != "load" else None
if mode == "save":
    artrepo.save_artifact(arr, name="arr")
elif mode == "load":
    arr = artrepo.load_artifact("arr")
def hwm():  # VmHWM is per address space: exec resets it (ru_maxrss keeps the parent's at fork)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({{"peak": hwm()}}))
"""


def bench_memory(size: int, tmp: Path) -> Table:
    t = Table(f"peak RSS (VmHWM of a fresh process), {size / GiB:g} GiB array")
    project = new_project(tmp / "proj")
    runs = {mode: run_child(MEMORY_CHILD.format(project=str(project), mode=mode, size=size))
            for mode in ("array-only", "save", "load")}
    alone = runs["array-only"]["peak"]
    # The issue's bound is 1.3 GiB for 1 GiB; below that the interpreter and the save's
    # fixed buffers (packs in flight) dominate, so a smaller size is shown, not judged.
    limit = 1.3 * size
    t.add("baseline: the array alone (numpy and artrepo imported)", "-", f"{alone / GiB:.2f} GiB", None)
    for mode in ("save", "load"):
        peak = runs[mode]["peak"]
        target = f"<= {limit / GiB:.2f} GiB" if size >= GiB else "<= 1.3 GiB at the issue's 1 GiB"
        t.add(f"{mode} peak RSS", target, f"{peak / GiB:.2f} GiB", _judged(peak <= limit, size, GiB))
    shutil.rmtree(project, ignore_errors=True)
    return t


def _at_size(target: str, measured_at: int, issue_size: int) -> str:
    """The target, marked when `--quick` measures below the size the issue sets it for."""
    return target if measured_at >= issue_size else f"{target} at the issue's size, not this one"


def _judged(ok: bool, measured_at: int, issue_size: int) -> bool | None:
    return ok if measured_at >= issue_size else None  # n/a: fixed costs dominate a smaller size


# -- start-up ----------------------------------------------------------------------------------
def artrepo_cmd() -> list[str]:
    script = Path(sys.executable).with_name("artrepo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "artrepo"]


def wall(cmd: list[str], cwd: Path, runs: int = 10, warmup: int = 2) -> float:
    times = []
    for i in range(runs + warmup):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_startup(versions: int, tmp: Path) -> Table:
    import artrepo

    t = Table("start-up (median of 10 whole processes after 2 warm-ups)")
    probe = ("import json, sys, runpy; sys.argv = ['artrepo', '--help']\n"
             "try:\n    runpy.run_module('artrepo', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "heavy = ['numpy', 'pandas', 'pyarrow', 'pygit2', 's3fs', 'fsspec']\n"
             "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    t.add("`artrepo --help` imports numpy/pandas/pyarrow/pygit2/s3fs/fsspec", "none",
          ", ".join(loaded) or "none", not loaded)
    help_s = wall([*artrepo_cmd(), "--help"], tmp)
    project = new_project(tmp / "proj")
    for i in range(versions):
        artrepo.save_artifact(i, name="many")
    pygit2_s = wall([sys.executable, "-c", "import pygit2"], project)
    log_s = wall([*artrepo_cmd(), "log", "many"], project)
    out = subprocess.run([*artrepo_cmd(), "log", "many"], cwd=project, capture_output=True, text=True).stdout
    assert len(out.strip().splitlines()) == versions, "log did not list every version"
    t.add("`artrepo --help` wall", "-", f"{help_s * 1000:.0f} ms", None)
    t.add(f"`artrepo log NAME` with {versions} versions vs `python -c 'import pygit2'`", "<= 2x",
          f"{log_s / pygit2_s:.2f}x ({log_s * 1000:.0f} vs {pygit2_s * 1000:.0f} ms)", log_s <= 2 * pygit2_s)
    shutil.rmtree(project, ignore_errors=True)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (64 MiB arrays, 1M-row frames)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per figure (the first is reported apart)")
    args = ap.parse_args()
    chosen = [s for s in args.only.split(",") if s]
    if unknown := set(chosen) - set(SECTIONS):
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    size = 64 * MiB if args.quick else GiB
    tmp = scratch("core")
    cwd = os.getcwd()
    tables: list[Table] = []
    started = time.time()
    try:
        if "array" in chosen:
            tables.append(bench_array(size, args.repeat, tmp))
        if "dedup" in chosen:
            sizes = [64 * MiB] if args.quick else [64 * MiB, 256 * MiB, GiB]
            tables.append(bench_dedup(sizes, 500_000 if args.quick else 5_000_000, tmp))
        if "dataframe" in chosen:
            tables.extend(bench_dataframe(1_000_000 if args.quick else 10_000_000, min(args.repeat, 3), tmp))
        if "memory" in chosen:
            tables.append(bench_memory(size, tmp))
        if "startup" in chosen:
            tables.append(bench_startup(100 if args.quick else 1000, tmp))
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    for table in tables:
        print(table.render(), end="\n\n")
    path = save_results("core-quick" if args.quick else "core", tables,
                        {"args": vars(args), "seconds": round(time.time() - started, 1)})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
