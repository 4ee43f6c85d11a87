"""Schedulers decide when the step tasks the driver submits run, and where.

The driver submits a task only once every step upstream of it has finished
(its cache decision needs their outputs' content hashes), and at most `slots`
tasks at a time; a step served from cache or skipped is never submitted. A
scheduler runs each task with `task.run(store)` somewhere (this thread,
a thread pool, a Dask worker with its own store) and hands back outcomes.

    scheduler = make_scheduler(parallel=2, store=LocalStore(repo))
    scheduler.submit(task); [(task, outcome)] = scheduler.wait_any(); scheduler.close()
"""
from __future__ import annotations

from abc import ABC, abstractmethod


class Scheduler(ABC):
    """What the driver needs of a scheduler (Sequential, Threads, runtime.dask_scheduler.DaskScheduler)."""

    slots = 1  # tasks taken at once before the driver waits for one

    @abstractmethod
    def submit(self, task) -> None:
        """Start (or queue) a task whose upstream steps have all finished."""

    @abstractmethod
    def wait_any(self) -> list:
        """[(task, StepOutcome)] of at least one submitted task, once finished."""

    def close(self) -> None:
        """Wait for running tasks and release what the scheduler holds."""


class Sequential(Scheduler):
    """One task at a time, in this thread, in the order submitted."""

    def __init__(self, store):
        self.store = store
        self.queue: list = []

    def submit(self, task) -> None:
        self.queue.append(task)

    def wait_any(self) -> list:
        task = self.queue.pop(0)
        return [(task, task.run(self.store))]


class Threads(Scheduler):
    """Up to `workers` tasks at once on threads of this process (`RunOptions.parallel`)."""

    def __init__(self, store, workers: int):
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self.slots = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artrepo-step")
        self.running: dict = {}  # future -> task

    def submit(self, task) -> None:
        self.running[self.pool.submit(task.run, self.store)] = task

    def wait_any(self) -> list:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        return [(self.running.pop(future), future.result()) for future in done]

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def make_scheduler(parallel: int, store) -> Scheduler:
    return Threads(store, parallel) if parallel > 1 else Sequential(store)
