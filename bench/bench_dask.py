"""The Dask orchestrator: parallel speed-up, overhead per step, and a worker's save into S3 against s3fs.

    .venv/bin/python bench/bench_dask.py [--quick]

1. Four independent steps of 1 s of CPU each: a run on a warm 2-worker
   LocalCluster against the same pipeline run locally (in process, one step
   at a time), interleaved, best of --rounds each. Target <= 0.6x (ideal 0.5x
   on 2 cores).
2. A chain of trivial steps: (Dask run - local run) / steps, warm cluster.
   Target <= 50 ms. Cluster start and stop are reported apart.
3. On a worker, a step's output of 256 MiB (random bytes) staged into the S3
   store (moto_server) against a plain s3fs `pipe` of the same bytes from
   that worker. Target >= 0.7x the throughput.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_remote import start_moto  # noqa: E402
from common import MiB, new_project, scratch  # noqa: E402

from artrepo import pipeline, step  # noqa: E402
from artrepo.runtime.driver import RunOptions, run_pipeline  # noqa: E402
from artrepo.stacks import DaskOrchestrator  # noqa: E402


def burn(seconds: float) -> int:
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return n


@step(enable_cache=False)
def cpu(i: int, seconds: float = 1.0) -> int:
    return burn(seconds) * 0 + i


@pipeline(enable_cache=False)
def four(seconds: float = 1.0):
    for i in range(4):
        cpu(i=i, seconds=seconds)


@step(enable_cache=False)
def inc(x: int) -> int:
    return x + 1


@pipeline(enable_cache=False)
def chain(n: int = 20):
    x = inc(0)
    for _ in range(n - 1):
        x = inc(x)


def timed_run(p, orchestrator, **params) -> float:
    t = time.perf_counter()
    run = run_pipeline(p.with_options(orchestrator=orchestrator), (), params, RunOptions(report=lambda line: None))
    assert run.status == "completed"
    elapsed = time.perf_counter() - t
    print(f"  {p.name} on {orchestrator!r}: {elapsed:.2f} s", flush=True)
    return elapsed


def stage_into_s3(url: str, endpoint: str, index_files, size: int) -> float:
    """On the worker: stage `size` random bytes through the worker store into the S3 store; seconds."""
    import numpy as np

    from artrepo.runtime.workerstore import StoreSpec, WorkerStore
    from artrepo.values import SaveRequest

    data = np.random.default_rng(time.time_ns()).integers(0, 255, size, dtype=np.uint8)  # new data: no dedup
    store = WorkerStore(StoreSpec.remote(url, endpoint, index_files))
    t = time.perf_counter()
    store.stage(data, SaveRequest("bench_big", producer={"run_id": "bench", "step": "big", "output": "output"}))
    return time.perf_counter() - t


def s3fs_put(url: str, endpoint: str, size: int) -> float:
    """On the worker: the same number of random bytes with a plain s3fs `pipe`; seconds."""
    import numpy as np
    import s3fs

    data = np.random.default_rng(time.time_ns()).integers(0, 255, size, dtype=np.uint8).tobytes()
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
    t = time.perf_counter()
    fs.pipe(url.removeprefix("s3://") + f"/plain-{time.time_ns()}", data)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the 4-step comparison (best of)")
    args = ap.parse_args()
    seconds, steps, size = (0.5, 10, 64 * MiB) if args.quick else (1.0, 20, 256 * MiB)
    from distributed import Client, LocalCluster

    work = scratch("dask")
    new_project(work / "project")
    moto, endpoint = start_moto()
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        t = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR, env=env)
        client = Client(cluster)
        start = time.perf_counter() - t
        dask = DaskOrchestrator(scheduler=cluster.scheduler_address)
        timed_run(chain, dask, n=2)  # warm: workers import artrepo and numpy once
        runs4 = [(timed_run(four, "local", seconds=seconds), timed_run(four, dask, seconds=seconds))
                 for _ in range(args.rounds)]  # interleaved: a busy moment hurts both sides
        local4, dask4 = min(r[0] for r in runs4), min(r[1] for r in runs4)
        local_chain = min(timed_run(chain, "local", n=steps) for _ in range(3))
        dask_chain = min(timed_run(chain, dask, n=steps) for _ in range(3))

        os.environ.update(env)
        import s3fs

        s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}).mkdir("bench")
        url = "s3://bench/store"
        worker = sorted(client.scheduler_info()["workers"])[0]
        plain, staged = [], []
        for _ in range(2):  # interleaved; the best of each
            plain.append(client.submit(s3fs_put, url, endpoint, size, workers=[worker], pure=False).result())
            staged.append(client.submit(stage_into_s3, url, endpoint, [], size, workers=[worker],
                                        pure=False).result())
        t = time.perf_counter()
        client.close()
        cluster.close()
        stop = time.perf_counter() - t
    finally:
        os.killpg(moto.pid, signal.SIGTERM)
        moto.wait()
        os.chdir("/")
        shutil.rmtree(work, ignore_errors=True)
    print(f"4 steps x {seconds:g} s CPU: local {local4:.2f} s, Dask (2 workers, warm) {dask4:.2f} s: "
          f"{dask4 / local4:.2f}x (target <= 0.6x)")
    per_step = (dask_chain - local_chain) / steps * 1000
    print(f"{steps} trivial steps in a chain: local {local_chain:.3f} s, Dask {dask_chain:.3f} s: "
          f"overhead {per_step:.1f} ms per step (target <= 50 ms)")
    print(f"LocalCluster of 2 workers: start {start:.2f} s, stop {stop:.2f} s (not in the figures above)")
    rate_plain, rate_staged = size / min(plain) / MiB, size / min(staged) / MiB
    print(f"{size // MiB} MiB from a worker into S3 (moto_server): s3fs pipe {rate_plain:.0f} MiB/s, "
          f"artrepo stage {rate_staged:.0f} MiB/s: {rate_staged / rate_plain:.2f}x (target >= 0.7x)")


if __name__ == "__main__":
    main()
