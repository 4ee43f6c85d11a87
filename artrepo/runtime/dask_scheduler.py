"""The Dask orchestrator: each step that must run is one Dask task; only records pass through the scheduler.

    scheduler = DaskScheduler(DaskOrchestrator(scheduler="tcp://10.0.0.5:8786"), store, run_id, report)
    scheduler.submit(task); [(task, outcome)] = scheduler.wait_any(); scheduler.close()

The driver decides every step first (cache keys, hits: a cached step is never
submitted). A step that must run is pickled here with cloudpickle (the
pipeline's own modules and `__main__` by value, so code the workers lack
still runs) and submitted as `client.submit(run, payload, spec,
key="artrepo-<run>-<step>-<attempt>", pure=False, resources=...)`. The payload
holds the function, parameters and the records of its inputs, and the store
spec its URL: never data, never a secret. The worker loads the inputs from
the stack's artifact store and stages the outputs there
(`runtime.workerstore`); the outcome (records, timings, the error) comes back.

Before the first task, the workers are checked once: the same Python minor
version and artrepo version as this process. A step asking for a resource
no worker offers fails at once. Without a scheduler address a LocalCluster
(processes, one thread each) is started for the run and closed with it;
closing (also on Ctrl-C) cancels what is still running and releases every
future.
"""
from __future__ import annotations

import os
import sys

from artrepo.errors import UserError
from artrepo.runtime.scheduler import Scheduler


def _versions() -> tuple[str, str]:
    """(Python minor version, artrepo version) of the process it runs in (sent to every worker)."""
    import artrepo

    return f"{sys.version_info[0]}.{sys.version_info[1]}", artrepo.__version__


def run_on_worker(payload: bytes, spec):
    """The Dask task of one step: `workerstore.run_task`, plus where it ran."""
    import socket

    from distributed import get_worker

    from artrepo.runtime.provenance import environment
    from artrepo.runtime.workerstore import run_task

    outcome, index_files = run_task(payload, spec)
    executor = {"orchestrator": "dask", "worker": get_worker().address, "host": socket.gethostname()}
    return outcome.replace(executor=executor, environment=environment(True)), index_files


def _user_modules() -> list:
    """Modules of the user's own code (not the standard library, site-packages or artrepo) now imported."""
    from artrepo.runtime.codehash import _is_user_module

    return [m for name, m in list(sys.modules.items())
            if name != "__main__" and not name.startswith("__mp_") and _is_user_module(name)]


def dumps_task(task) -> bytes:
    """The task pickled with the pipeline's own modules by value (workers need not have them)."""
    import cloudpickle

    registered = []
    for module in _user_modules():
        try:
            cloudpickle.register_pickle_by_value(module)
            registered.append(module)
        except (ValueError, TypeError):
            pass  # a namespace package or an odd module object: pickled by reference
    try:
        return cloudpickle.dumps(task)
    finally:
        for module in registered:  # the driver's own pickles (artifacts) stay by reference
            cloudpickle.unregister_pickle_by_value(module)


class DaskScheduler(Scheduler):
    """Runs step tasks on a Dask cluster (see the module docstring)."""

    slots = 1 << 20  # Dask queues; the driver submits a step once its upstream steps have finished

    def __init__(self, orchestrator, store, run_id: str, report=None):
        self.orchestrator = orchestrator
        self.store = store  # runtime.stackstore: RepositoryStore or RemoteStore
        self.run_id = run_id
        self.report = report or (lambda line: None)
        try:
            import distributed
        except ImportError:
            raise UserError("the Dask orchestrator needs dask and distributed: pip install 'artrepo[dask]'") from None
        self.distributed = distributed
        self.cluster = None
        self.client = None
        self.futures: dict = {}  # future -> task
        self._connect()

    # -- the cluster -----------------------------------------------------------------
    def _connect(self) -> None:
        o, distributed = self.orchestrator, self.distributed
        if o.client is not None:
            self.client = o.client
            where = f"the Dask client's scheduler {self.client.scheduler.address}"
        elif o.scheduler:
            try:
                self.client = distributed.Client(o.scheduler, timeout=10, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise UserError(f"cannot reach the Dask scheduler at {o.scheduler}: {exc}") from None
            where = f"Dask scheduler {o.scheduler}"
        else:
            self._start_local_cluster(o.workers)
            n = len(self.cluster.workers)
            where = f"a local Dask cluster ({n} worker{'s' if n != 1 else ''})"
        self.completed = distributed.as_completed(loop=self.client.loop)
        try:
            info = self.client.scheduler_info()
            self.workers = info.get("workers", {})
            if not self.workers:
                raise UserError(f"{where} has no workers; start some ('dask worker {o.scheduler or ''}')")
            self._check_versions()
        except BaseException:
            self.close()
            raise
        link = self.client.dashboard_link if self._serves_dashboard(info) else None
        self.report(f"dask: running on {where}" + (f", dashboard {link}" if link else ""))

    def _serves_dashboard(self, info: dict) -> bool:
        if "dashboard" not in info.get("services", {}):
            return False
        if self.cluster is None:
            return True  # another machine's scheduler: it says it serves one
        import importlib.util

        return importlib.util.find_spec("bokeh") is not None  # without bokeh it serves health checks only

    def _start_local_cluster(self, workers: int | None) -> None:
        import logging

        distributed = self.distributed
        if getattr(sys.modules.get("__main__"), "__name__", None) == "__mp_main__":
            raise UserError("a pipeline runs while a worker process imports the script: run it under "
                            "`if __name__ == \"__main__\":` (as any script that starts processes)")
        n = workers or max(1, min(os.cpu_count() or 1, 4))
        try:
            self.cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        except Exception as exc:
            raise UserError(f"the local Dask cluster did not start ({type(exc).__name__}: {exc}); a script that "
                            "runs a pipeline must do so under `if __name__ == \"__main__\":`") from None
        self.client = distributed.Client(self.cluster, set_as_default=False)

    def _check_versions(self) -> None:
        mine = _versions()
        try:
            theirs = self.client.run(_versions)
        except ModuleNotFoundError as exc:
            raise UserError(f"artrepo is not installed on the Dask workers ({exc}): install artrepo[dask]=="
                            f"{mine[1]} there") from None
        for worker, (python, artrepo_version) in sorted(theirs.items()):
            if python != mine[0]:
                raise UserError(f"Dask worker {worker} runs Python {python}, this process Python {mine[0]}: "
                                "steps are sent as pickled code, which needs the same Python minor version")
            if artrepo_version != mine[1]:
                raise UserError(f"Dask worker {worker} has artrepo {artrepo_version}, this process artrepo "
                                f"{mine[1]}: install the same version on the workers")

    def _check_resources(self, task) -> None:
        if not task.resources:
            return
        for refresh in (False, True):
            if refresh:  # workers may have joined since the run started
                self.workers = self.client.scheduler_info().get("workers", {})
            if any(all(w.get("resources", {}).get(k, 0) >= v for k, v in task.resources.items())
                   for w in self.workers.values()):
                return
        offered = sorted({f"{k}={v:g}" for w in self.workers.values() for k, v in w.get("resources", {}).items()})
        wanted = ", ".join(f"{k}={v:g}" for k, v in task.resources.items())
        raise UserError(f"step {task.step!r} asks for {wanted}, which no worker of the Dask cluster offers "
                        f"(workers offer: {', '.join(offered) or 'no resources'}); start a worker with "
                        f"'dask worker ... --resources \"{wanted.replace(', ', ',')}\"'")

    # -- the Scheduler interface --------------------------------------------------------
    def submit(self, task) -> None:
        self._check_resources(task)
        self.store.prepare(list(task.inputs.values()))
        key = f"artrepo-{self.run_id[:12]}-{task.step}-{task.attempt}"
        future = self.client.submit(run_on_worker, dumps_task(task), self.store.spec(), key=key, pure=False,
                                    resources=task.resources or None)
        self.futures[future] = task
        self.completed.add(future)
        self.report(f"step {task.step}: submitted to Dask" + (f" (attempt {task.attempt + 1})" if task.attempt else ""))

    def wait_any(self) -> list:
        from artrepo.runtime.task import StepOutcome, describe_failure

        done = [next(self.completed)]
        if self.completed.has_ready():
            done += self.completed.next_batch(block=False)
        out = []
        for future in done:
            task = self.futures.pop(future, None)
            if task is None:
                continue
            try:
                outcome, index_files = future.result()
                self.store.adopt(index_files)
            except Exception as exc:  # the task itself failed (a worker died too often, a store error)
                message, trace = describe_failure(exc)
                outcome = StepOutcome({}, {}, 0, 0, f"the Dask task failed: {message}", trace)
            finally:
                future.release()
            out.append((task, outcome))
        return out

    def close(self) -> None:
        """Cancel what still runs, release every future, close the client and the cluster this run started."""
        try:
            if self.futures and self.client is not None:
                self.client.cancel(list(self.futures), force=True)
            for future in self.futures:
                future.release()
            self.futures.clear()
        finally:
            if self.client is not None and self.client is not self.orchestrator.client:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None
