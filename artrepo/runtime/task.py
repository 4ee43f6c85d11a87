"""A step task: one step that must run, as a picklable unit, and the small outcome it returns.

The driver builds a `StepTask` once the step's inputs are resolved (each one
given as what loading it needs: record, manifest, trust) and a scheduler runs
it, in this process or another: `task.run(store)` loads the inputs from the
store, calls the step function and stages the outputs into the store. The
`StepOutcome` holds only records: the staged versions (record + manifest),
the versions `save_artifact` published inside the step, timings or the
error. The driver publishes the staged versions.

A store offers `load(stored)`, `stage(value, request)` and, for
`save_artifact` inside a step, `save(data, name, version, **settings)`;
`LocalStore` is the driver's own repository.
"""
from __future__ import annotations

import _thread
import time

from artrepo import values
from artrepo.errors import UserError
from artrepo.plain import Frozen
from artrepo.runtime import context


class StepOutcome(Frozen):
    """What running a step returned: staged outputs and versions saved inside it, or the error.

    `saved` holds versions `save_artifact` published inside the step ({name: (id, label)}), `pending`
    those it staged ({name: Staged}, on a worker: the driver publishes them); `executor` says where
    the step ran when that was not the driver's process ({"orchestrator", "worker", "host"}).
    """

    __slots__ = ("staged", "saved", "start_ns", "end_ns", "error", "traceback", "pending", "executor")

    def __init__(self, staged: dict, saved: dict, start_ns: int, end_ns: int, error: str | None = None,
                 traceback: str | None = None, pending: dict | None = None, executor: dict | None = None):
        self._init(staged=staged, saved=saved, start_ns=start_ns, end_ns=end_ns, error=error, traceback=traceback,
                   pending=pending or {}, executor=executor or {})


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(one-line message, formatted traceback) of an exception that failed a step."""
    import traceback

    message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    return message, "".join(traceback.format_exception(exc))


class StepTask(Frozen):
    """Everything running one step needs.

    `inputs` maps input names to `values.Stored`; `outputs` are the step's
    `OutputSpec`s with their artifact name and materializer filled in.
    """

    __slots__ = ("run_id", "pipeline", "step", "function", "parameters", "inputs", "outputs", "attempt",
                 "resources")

    def __init__(self, run_id: str, pipeline: str, step: str, function, parameters: dict,
                 inputs: dict[str, values.Stored], outputs: tuple, attempt: int = 0, resources: dict | None = None):
        self._init(run_id=run_id, pipeline=pipeline, step=step, function=function, parameters=parameters,
                   inputs=inputs, outputs=outputs, attempt=attempt, resources=resources or {})

    def run(self, store) -> StepOutcome:
        """Load the inputs, call the step function, stage its outputs; an exception becomes the outcome's error."""
        start = time.time_ns()
        try:
            loaded = {k: store.load(stored) for k, stored in self.inputs.items()}
            ctx = context.StepContext(self.pipeline, self.step, self.run_id, {o.key: o.name for o in self.outputs},
                                      store)
            token = context._STEP.set(ctx)
            try:
                result = self.function(**self.parameters, **loaded)
            finally:
                context._STEP.reset(token)
            staged = {out.key: store.stage(value, self._request(out, ctx))
                      for out, value in zip(self.outputs, self._split(result))}
        except Exception as exc:
            return StepOutcome({}, {}, start, time.time_ns(), *describe_failure(exc))
        return StepOutcome(staged, ctx.saved, start, time.time_ns(), pending=ctx.pending)

    def _request(self, out, ctx) -> values.SaveRequest:
        return values.SaveRequest(out.name, out.version, tags=[*out.tags, *ctx.output_tags[out.key]],
                                  artifact_type=out.artifact_type,
                                  metadata={**out.run_metadata, **ctx.output_metadata[out.key]},
                                  materializer=out.materializer, origin="pipeline",
                                  producer={"run_id": self.run_id, "step": self.step, "output": out.key})

    def _split(self, result) -> list:
        n = len(self.outputs)
        if n == 0:
            return []
        if n == 1:
            return [result]
        if not isinstance(result, (tuple, list)) or len(result) != n:
            got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
            raise UserError(f"step {self.step!r} declares {n} outputs ({', '.join(o.key for o in self.outputs)}) "
                            f"but returned {got}")
        return list(result)


class LocalStore:
    """The driver's own repository as the store of steps that run in this process.

    Loads, stages, publishes and saves take one lock (user code runs outside
    it): steps on threads never share the chunk store or git objects at once.
    From a step's first staged output until the driver publishes or drops it,
    the repository's saving lock is held (shared), so gc cannot remove a pack
    a staged version reuses.
    """

    def __init__(self, repo):
        self.repo = repo
        self.lock = _thread.allocate_lock()  # `threading.Lock` without importing threading
        self._workspace = None
        self._holds: dict[str, object] = {}  # step -> the saving lock its staged outputs hold

    @property
    def workspace(self) -> values.Workspace:
        if self._workspace is None:
            self._workspace = values.Workspace.of(self.repo)
        return self._workspace

    def load(self, stored: values.Stored):
        with self.lock:
            return values.load(self.workspace, stored)

    def stage(self, value, request: values.SaveRequest) -> values.Staged:
        with self.lock:
            step = request.producer["step"]
            if step not in self._holds:
                hold = self._holds[step] = self.repo.saving()
                hold.__enter__()
            return values.stage(self.workspace, value, request)

    def save(self, data, name: str, version=None, **settings):
        """`save_artifact` inside a step: published at once (the step may use the version it returns)."""
        with self.lock:
            return values.save_value(self.repo, data, name, version, **settings)

    def publish_saved(self, pending: dict[str, values.Staged]) -> dict:
        """Publish the versions `save_artifact` staged inside a step on a worker ({name: VersionInfo})."""
        with self.lock:
            return {name: values.publish(self.repo, s) for name, s in pending.items()}

    def publish(self, step: str, staged: dict[str, values.Staged]) -> dict:
        """Publish what a step staged, in order ({key: VersionInfo}); releases its hold even on failure."""
        with self.lock:
            try:
                return {key: values.publish(self.repo, s) for key, s in staged.items()}
            finally:
                hold = self._holds.pop(step, None)
                if hold is not None:
                    hold.__exit__(None, None, None)
