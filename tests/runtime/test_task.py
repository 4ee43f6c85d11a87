"""A step task runs in another process from its pickled bytes; any scheduler can run a plan's tasks.

`SpawnedProcesses` below is a third scheduler, written against the interface
alone: each task is pickled with cloudpickle, run by a freshly spawned
interpreter that opens the repository's content store itself, and only the
pickled outcome comes back; the driver publishes what the task staged.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import cloudpickle
from typing_extensions import Annotated

from artrepo import Client, load_artifact, pipeline, save_artifact, step
from artrepo.runtime.driver import RunOptions, run_pipeline
from artrepo.runtime.scheduler import Scheduler
from artrepo_testing import git_fsck


def _run_pickled(task_bytes: bytes, root: str) -> bytes:
    import os

    from artrepo.repository import Repository
    from artrepo.runtime.task import LocalStore

    task = cloudpickle.loads(task_bytes)
    outcome = task.run(LocalStore(Repository(root)))
    return cloudpickle.dumps((os.getpid(), outcome))


class SpawnedProcesses(Scheduler):
    def __init__(self, root, workers: int = 2):
        self.root = str(root)
        self.slots = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.running: dict = {}
        self.submitted: list[str] = []
        self.pids: set[int] = set()

    def submit(self, task) -> None:
        self.submitted.append(task.step)
        self.running[self.pool.submit(_run_pickled, cloudpickle.dumps(task), self.root)] = task

    def wait_any(self) -> list:
        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            pid, outcome = cloudpickle.loads(future.result())
            self.pids.add(pid)
            out.append((self.running.pop(future), outcome))
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@step
def source(n: int = 4) -> Annotated[list, "numbers"]:
    return list(range(n))


@step
def doubled(values: list) -> Annotated[list, "doubled"]:
    return [2 * v for v in values]


@step
def total(values: list) -> Annotated[int, "total"]:
    save_artifact(len(values), name="count")  # published by the worker, recorded as an output of the step
    return sum(values)


@step
def broken(values: list) -> Annotated[int, "broken"]:
    raise ValueError("no")


@step
def after_broken(x: int) -> int:
    return x


@pipeline
def fan(n: int = 4):
    values = source(n=n)
    doubled(values)
    total(values)
    after_broken(broken(values))


def _run_on(scheduler, **parameters):
    from artrepo.runtime.driver import StepFailedError

    try:
        return run_pipeline(fan, (), parameters, RunOptions(scheduler=scheduler))
    except StepFailedError as exc:
        return exc.run


def test_steps_run_in_spawned_processes_and_the_driver_publishes_their_outputs(project):
    import os

    scheduler = SpawnedProcesses(project)
    run = _run_on(scheduler)
    assert scheduler.pids and os.getpid() not in scheduler.pids
    assert set(scheduler.submitted) == {"source", "doubled", "total", "broken"}  # never the skipped step
    statuses = {name: s.status for name, s in run.steps.items()}
    assert statuses == {"source": "completed", "doubled": "completed", "total": "completed", "broken": "failed",
                        "after_broken": "skipped"}
    assert run.steps["broken"].error == "ValueError: no"
    assert load_artifact("doubled") == [0, 2, 4, 6] and load_artifact("total") == 6
    assert set(run.steps["total"].outputs) == {"total", "count"} and load_artifact("count") == 4
    assert Client().get_artifact_version("total").producer.run_id == run.id
    git_fsck(project)


def test_cached_steps_are_never_submitted_and_results_equal_a_run_in_process(project):
    in_process = _run_on(None, n=3)
    scheduler = SpawnedProcesses(project)
    again = _run_on(scheduler, n=3)
    assert scheduler.submitted == ["broken"]  # failed before: the only step that runs again
    assert [s.cached for s in again.steps.values()] == [True, True, True, False, False]
    for name in ("source", "doubled", "total"):
        assert again.steps[name].outputs == in_process.steps[name].outputs

