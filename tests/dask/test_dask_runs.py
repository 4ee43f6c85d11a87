"""Runs on a Dask stack: results equal a local run's, data never passes through the scheduler, failures,
retries, a killed worker, the cache, and the artifact store on a folder, on the repository or on S3."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
from typing_extensions import Annotated

from artrepo import Client, load_artifact, pipeline, save_artifact, step
from artrepo.runtime.driver import RunOptions, StepFailedError, run_pipeline
from artrepo_testing import git_fsck, run_cli


@step
def make(n: int = 1000, seed: int = 0) -> Annotated[np.ndarray, "data"]:
    return np.random.default_rng(seed).standard_normal(n)


@step
def scaled(x: np.ndarray, factor: float = 2.0) -> Annotated[np.ndarray, "scaled"]:
    save_artifact(float(x.sum()), name="data_sum")  # staged on the worker, published by the driver
    return x * factor


@step
def summary(x: np.ndarray) -> Annotated[dict, "summary"]:
    return {"n": int(x.size), "mean": float(x.mean())}


@pipeline
def analysis(n: int = 1000):
    data = make(n=n)
    scaled(data)
    summary(data)


def run(p, **parameters):
    try:
        return run_pipeline(p, (), parameters, RunOptions())
    except StepFailedError as exc:
        return exc.run


def fsck_clean(project, remote: str | None = None) -> None:
    git_fsck(project)
    args = ["fsck", "--read-data"] + (["--remote", remote] if remote else [])
    proc = run_cli(*args, cwd=project)
    assert proc.returncode == 0 and "no problems" in proc.stdout, proc.stdout + proc.stderr


def tree_entries(repo, version_id: str) -> dict[str, str]:
    return repo.objects.tree_listing(version_id, "")


def test_a_dask_run_equals_a_local_run(project, tmp_path, dask_stack, dask_cluster, submitted):
    from artrepo.client import active_repository
    from artrepo.repository import Repository

    local_root = tmp_path / "local"
    Repository.init(local_root).close()
    os.chdir(local_root)
    local = run(analysis)
    local_repo = active_repository(local_root)
    os.chdir(project)
    dask_stack()
    remote = run(analysis)
    repo = active_repository(project)
    assert submitted.steps == ["make", "scaled", "summary"] or sorted(submitted.steps) == ["make", "scaled", "summary"]
    workers = set(dask_cluster.scheduler_info["workers"])
    for name, s in remote.steps.items():
        theirs = local.steps[name]
        assert s.status == theirs.status == "completed" and not s.cached
        assert s.cache_key == theirs.cache_key
        assert s.record.executor["worker"] in workers and s.record.executor["orchestrator"] == "dask"
        assert set(s.outputs) == set(theirs.outputs)
        for key, av in s.outputs.items():
            other = theirs.outputs[key]
            assert av.content_hash == other.content_hash
            # the version commit's tree: the manifest is the same blob, the record differs only in time and run
            mine, its = tree_entries(repo, av.id), tree_entries(local_repo, other.id)
            assert mine.keys() == its.keys() and mine["manifest.msgpack"] == its["manifest.msgpack"], (mine, its)
            a, b = av.record, other.record
            assert a.replace(created_ns=0, producer=None) == b.replace(created_ns=0, producer=None)
    assert remote.steps["scaled"].inputs["x"].producer.run_id == remote.id  # lineage as for a local run
    assert load_artifact("data_sum") == pytest.approx(float(load_artifact("data").sum()))
    worker = remote.steps['make'].record.executor['worker']
    shown = run_cli("show", remote.id, cwd=project, check=True).stdout
    assert f"ran on:     dask worker {worker}" in shown
    ran_on = {s.record.executor["worker"] for s in remote.steps.values()}
    envs = remote.provenance.environment["workers"]  # each worker's own environment, as it was after its step
    assert set(envs) == ran_on and "workers" not in local.provenance.environment
    assert all(e["python"] == local.provenance.environment["python"] and "numpy" in e["packages"] for e in envs.values())
    assert f"Worker:     {worker}: Python " in shown
    from artrepo.ui.dashboard import Dashboard
    from artrepo.ui.runpages import run_page

    dash = Dashboard(project)
    try:  # the dashboard's run page, as a browser gets it
        page = run_page(dash, {}, remote.id).body.decode()
    finally:
        dash.close()
    assert f'ran on dask worker <span class="mono">{worker}</span>' in page
    assert f'<dt>Worker</dt><dd><span class="mono">{worker}</span>: Python ' in page
    fsck_clean(project)


def test_a_second_run_submits_nothing_and_data_gone_from_the_store_is_a_miss(project, tmp_path, dask_stack,
                                                                          submitted):
    from artrepo.client import active_repository
    from artrepo.remotes.config import add_remote

    repo = active_repository(project)
    add_remote(repo, "bucket", str(tmp_path / "bucket"))
    dask_stack(remote="bucket")
    first = run(analysis)
    assert first.status == "completed" and len(submitted) == 3
    second = run(analysis)
    assert len(submitted) == 3 and all(s.cached for s in second.steps.values())  # no cluster work at all
    # the data of `summary`'s output disappears from the bucket (its pack deleted): that step is a miss
    from artrepo.storage.chunkstore import open_store
    from artrepo.remotes.state import read_state

    store_url = str(tmp_path / "bucket")
    state = read_state(open_store(store_url).backend)
    store = open_store(store_url, index_files=state.index_files)
    manifest = repo.manifest(first.steps["summary"].outputs["summary"].id)
    pack = store.locate(manifest.files[0].chunks[0][0])[0]
    os.unlink(store.pack_path(pack) if store.root else store_url + "/" + store.pack_key(pack))
    third = run(analysis)
    assert {n: s.cached for n, s in third.steps.items()} == {"make": True, "scaled": True, "summary": False}
    assert submitted.steps[3:] == ["summary"]
    assert third.steps["summary"].outputs["summary"].load() == first.steps["summary"].outputs["summary"].load()
    fsck_clean(project, "bucket")
    fsck_clean(project)


@step
def twin_a(n: int) -> Annotated[np.ndarray, "twin_a"]:
    return np.random.default_rng(7).standard_normal(n)


@step
def twin_b(n: int) -> Annotated[np.ndarray, "twin_b"]:
    return np.random.default_rng(7).standard_normal(n)


@pipeline
def twins(n: int = 1_000_000):
    twin_a(n=n)
    twin_b(n=n)


def test_two_parallel_steps_with_identical_output_store_one_copy(project, dask_stack):
    from artrepo.client import active_repository

    dask_stack()
    result = run(twins)
    assert result.status == "completed"
    a, b = (result.steps[n].outputs[n] for n in ("twin_a", "twin_b"))
    assert a.content_hash == b.content_hash
    repo = active_repository(project)
    repo.chunks.index.refresh()
    stored = sum(p.stat().st_size for p in (repo.git_dir / "chunks" / "packs").rglob("*") if p.is_file())
    assert 8_000_000 <= stored < 1.2 * 8_000_000  # 8 MB of float64 stored once, though both workers wrote it
    assert np.array_equal(a.load(), b.load())
    fsck_clean(project)


@step(retries=1)
def flaky(marker: str) -> Annotated[int, "flaky"]:
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return 42


@pipeline
def flaky_pipe(marker: str):
    flaky(marker=marker)


def test_a_flaky_step_with_retries_succeeds_on_its_second_attempt(project, tmp_path, dask_stack, submitted):
    dask_stack()
    result = run(flaky_pipe, marker=str(tmp_path / "marker"))
    assert result.status == "completed" and load_artifact("flaky") == 42
    assert [k.rsplit("-", 1)[1] for k, _ in submitted] == ["0", "1"]  # one key per attempt
    fsck_clean(project)


@step
def slow_big(marker: str, mb: int = 24) -> Annotated[np.ndarray, "slow_big"]:
    data = np.random.default_rng(3).integers(0, 255, mb << 20, dtype=np.uint8)
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)  # killed here, on the first attempt
    return data


@step
def after_big(x: np.ndarray) -> int:
    return int(x[:1000].sum())


@pipeline
def killed(marker: str):
    after_big(slow_big(marker=marker))


def run_killing_its_first_attempt(p, marker):
    """Run `p` (whose step writes its worker's pid to `marker` on its first attempt, then waits) and SIGKILL
    that worker; the run's result once Dask has re-run the step elsewhere."""
    done: dict = {}
    thread = threading.Thread(target=lambda: done.setdefault("run", run(p, marker=str(marker))))
    thread.start()
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(int(marker.read_text()), signal.SIGKILL)
    thread.join(120)
    return done["run"]


def test_a_worker_killed_mid_step_is_replaced_and_the_run_completes(project, tmp_path, dask_stack, dask_cluster):
    dask_stack()
    result = run_killing_its_first_attempt(killed, tmp_path / "pid")
    assert result.status == "completed", result.steps["slow_big"].error
    expected = np.random.default_rng(3).integers(0, 255, 24 << 20, dtype=np.uint8)
    assert np.array_equal(load_artifact("slow_big"), expected)
    deadline = time.monotonic() + 30  # the nanny replaces the dead worker
    while len(dask_cluster.scheduler_info["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(dask_cluster.scheduler_info["workers"]) == 2
    fsck_clean(project)


@step(resources={"GPU": 1})
def on_gpu() -> int:
    return 1


@step
def before_gpu() -> int:
    return 0


@pipeline
def gpu_pipe():
    before_gpu()
    on_gpu()


def test_a_gpu_request_no_worker_offers_fails_at_once_with_a_clear_error(project, dask_stack):
    dask_stack()
    start = time.monotonic()
    with pytest.raises(StepFailedError) as caught:
        run_pipeline(gpu_pipe, (), {}, RunOptions())
    assert time.monotonic() - start < 10
    assert "step 'on_gpu' asks for GPU=1, which no worker of the Dask cluster offers" in str(caught.value)
    steps = caught.value.run.steps
    assert steps["before_gpu"].status == "completed" and steps["on_gpu"].status == "failed"
    fsck_clean(project)


@step
def broken(x: np.ndarray) -> int:
    raise ValueError("broken on purpose")


@step
def after_broken(y: int) -> int:
    return y


@pipeline
def failing(n: int = 10):
    data = make(n=n)
    summary(data)
    after_broken(broken(data))


def test_a_failing_step_skips_its_dependents_keeps_the_rest_and_a_rerun_runs_only_it(project, dask_stack,
                                                                                 submitted):
    dask_stack()
    first = run(failing)
    assert {n: s.status for n, s in first.steps.items()} == {
        "make": "completed", "summary": "completed", "broken": "failed", "after_broken": "skipped"}
    assert first.status == "failed" and "ValueError: broken on purpose" in first.steps["broken"].error
    again = run(failing)
    assert submitted.steps[3:] == ["broken"]
    assert [s.cached for s in again.steps.values()] == [True, True, False, False]
    fsck_clean(project)


def test_workers_with_another_artrepo_version_are_named_before_anything_is_submitted(project, dask_stack,
                                                                                     submitted, monkeypatch):
    import artrepo
    from artrepo.errors import UserError

    dask_stack()
    theirs = artrepo.__version__  # the workers import artrepo themselves: their version is the installed one
    monkeypatch.setattr(artrepo, "__version__", "99.0.0")
    with pytest.raises(UserError) as caught:
        run_pipeline(analysis, (), {}, RunOptions())
    assert f"has artrepo {theirs}, this process artrepo 99.0.0" in str(caught.value)
    assert str(caught.value).startswith("Dask worker tcp://")
    assert submitted == []


def test_workers_on_another_python_minor_version_are_named_before_anything_is_submitted(project, dask_stack,
                                                                                        submitted, monkeypatch):
    """The driver says it runs Python 2.7 (the workers still report their own, real one): one line naming both."""
    import artrepo.runtime.dask_scheduler as dask_scheduler
    from artrepo.errors import UserError

    class OtherPython:  # the driver's `sys` as the scheduler module sees it; workers import their own
        version_info = (2, 7, 18, "final", 0)

        def __getattr__(self, name):
            return getattr(sys, name)

    dask_stack()
    monkeypatch.setattr(dask_scheduler, "sys", OtherPython())
    with pytest.raises(UserError) as caught:
        run_pipeline(analysis, (), {}, RunOptions())
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"runs Python {mine}, this process Python 2.7" in str(caught.value)
    assert str(caught.value).startswith("Dask worker tcp://")
    assert submitted == []


@step
def dies_after_saving(marker: str) -> Annotated[int, "survivor"]:
    if not os.path.exists(marker):  # first attempt: stage 16 MiB, then die before returning its record
        save_artifact(np.random.default_rng(11).integers(0, 255, 16 << 20, dtype=np.uint8), name="half_written")
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)  # killed here
    return 7


@pipeline
def dying(marker: str):
    dies_after_saving(marker=marker)


def test_what_a_killed_attempt_wrote_is_never_visible_and_gc_collects_it(project, tmp_path, dask_stack):
    """Packs before records: the dead attempt's staged version has packs in the store but no record reached
    the driver, so nothing names it; gc past the grace period removes its bytes."""
    dask_stack()
    result = run_killing_its_first_attempt(dying, tmp_path / "pid")
    assert result.status == "completed" and load_artifact("survivor") == 7
    assert "half_written" not in run_cli("list", cwd=project, check=True).stdout
    chunks = project / ".artrepo" / "chunks"

    def stored() -> int:
        return sum(p.stat().st_size for p in chunks.rglob("*") if p.is_file())

    assert stored() > 16 << 20  # the dead attempt's pack is there, named by nothing
    fsck_clean(project)
    run_cli("gc", "--grace", "1h", cwd=project, check=True)  # young: kept
    assert stored() > 16 << 20
    run_cli("gc", "--grace", "0s", cwd=project, check=True)
    assert stored() < 1 << 20
    fsck_clean(project)


@step
def reads_its_context(x: np.ndarray) -> Annotated[dict, "seen"]:
    from artrepo import get_step_context

    ctx = get_step_context()
    given = ctx.inputs["x"]  # ZenML's list of versions, that also answers as its one version
    return {"name": given[0].name, "version": given.version, "id": given.id, "hash": given.content_hash,
            "equal": bool(np.array_equal(given.load(), x)), "step": ctx.step_run.name, "run": ctx.pipeline_run.name}


@pipeline
def with_context(n: int = 1000):
    reads_its_context(make(n=n))


def test_a_step_on_a_worker_sees_its_inputs_in_the_step_context(project, dask_stack):
    dask_stack()
    result = run(with_context)
    assert result.status == "completed", [s.error for s in result.steps.values()]
    made = result.steps["make"].outputs["data"]
    seen = load_artifact("seen")
    assert seen == {"name": "data", "version": made.version, "id": made.id, "hash": made.content_hash,
                    "equal": True, "step": "reads_its_context", "run": result.name}
