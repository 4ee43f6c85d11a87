"""A step task: one step that must run, as a picklable unit, and the small outcome it returns.

The driver builds a `StepTask` once the step's inputs are resolved (each one
given as what loading it needs: record, manifest, trust) and a scheduler runs
it, in this process or another: `task.run(store)` loads the inputs from the
store, calls the step function and stages the outputs into the store. The
`StepOutcome` holds only records: the staged versions (record + manifest),
the versions `save_artifact` published inside the step, timings or the
error. The driver publishes the staged versions.

A store offers `load(stored)`, `stage(value, request, uri=None)`, for
`save_artifact` inside a step `save(data, name, version, **settings)`, and
for the step context `output_folder()` (`get_output_artifact_uri`) and
`version(stored)` (its `inputs`); `LocalStore` is the driver's own repository.
"""
from __future__ import annotations

import _thread
import time

from artrepo import values
from artrepo.errors import UserError
from artrepo.plain import Frozen
from artrepo.runtime import context, signature


class StepOutcome(Frozen):
    """What running a step returned: staged outputs, versions saved inside it, metadata it logged, or the error.

    `saved` holds versions `save_artifact` published inside the step ({name: (id, label)}), `pending`
    those it staged ({name: Staged}, on a worker: the driver publishes them); `metadata` is the step
    run's (ZenML's bare `log_metadata()` in a step), `run_metadata` what it logged on the run it belongs
    to; `executor` says where the step ran when that was not the driver's process ({"orchestrator",
    "worker", "host"}), and `environment` that process's (provenance.environment, for the run's record).
    """

    __slots__ = ("staged", "saved", "start_ns", "end_ns", "error", "traceback", "metadata", "run_metadata",
                 "pending", "executor", "environment")

    def __init__(self, staged: dict, saved: dict, start_ns: int, end_ns: int, error: str | None = None,
                 traceback: str | None = None, metadata: dict | None = None, run_metadata: dict | None = None,
                 pending: dict | None = None, executor: dict | None = None, environment: dict | None = None):
        self._init(staged=staged, saved=saved, start_ns=start_ns, end_ns=end_ns, error=error, traceback=traceback,
                   metadata=metadata or {}, run_metadata=run_metadata or {}, pending=pending or {},
                   executor=executor or {}, environment=environment or {})


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(one-line message, formatted traceback) of an exception that failed a step."""
    import traceback

    message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    return message, "".join(traceback.format_exception(exc))


class StepTask(Frozen):
    """Everything running one step needs.

    `inputs` maps input names to `values.Stored`; `outputs` are the step's
    `OutputSpec`s with their artifact name and materializer filled in;
    `settings` the plan's (`extract_metadata`, `include_visualizations`,
    `on_failure`, `on_success` hooks, `extra`).
    """

    __slots__ = ("run_id", "pipeline", "step", "function", "parameters", "inputs", "outputs", "settings", "run_name",
                 "attempt", "resources")

    def __init__(self, run_id: str, pipeline: str, step: str, function, parameters: dict,
                 inputs: dict[str, values.Stored], outputs: tuple, settings: dict | None = None,
                 run_name: str = "", attempt: int = 0, resources: dict | None = None):
        self._init(run_id=run_id, pipeline=pipeline, step=step, function=function, parameters=parameters,
                   inputs=inputs, outputs=outputs, settings=settings or {}, run_name=run_name, attempt=attempt,
                   resources=resources or {})

    def run(self, store) -> StepOutcome:
        """Load the inputs, call the step function, stage its outputs; an exception becomes the outcome's error.

        The hooks run inside the step's context: `on_success` once the outputs
        are staged (if it raises, the step fails), `on_failure` with the
        exception when the step fails.
        """
        start = time.time_ns()
        ctx = context.StepContext(self, store)
        try:
            loaded = {k: store.load(stored) for k, stored in self.inputs.items()}
            token = context._STEP.set(ctx)
            try:
                try:
                    staged = self._outputs(store, ctx, self.function(**self.parameters, **loaded))
                    self._hook("on_success")
                except Exception as exc:
                    self._hook("on_failure", exc)
                    raise
            finally:
                context._STEP.reset(token)
        except Exception as exc:
            import shutil

            for folder in ctx.output_uris.values():  # get_output_artifact_uri folders no output took
                shutil.rmtree(folder, ignore_errors=True)
            return StepOutcome({}, {}, start, time.time_ns(), *describe_failure(exc), metadata=ctx.step_metadata,
                               run_metadata=ctx.run_metadata)
        return StepOutcome(staged, ctx.saved, start, time.time_ns(), metadata=ctx.step_metadata,
                           run_metadata=ctx.run_metadata, pending=ctx.pending)

    def _outputs(self, store, ctx, result) -> dict:
        """Check the returned values against the declared outputs, then stage them."""
        returned = self._split(result)
        for out, value in zip(self.outputs, returned):
            signature.check_output(self.step, out.key, value, out.data_type)
        return {out.key: store.stage(value, self._request(out, ctx), ctx.output_uris.get(out.key))
                for out, value in zip(self.outputs, returned)}

    def _hook(self, name: str, exc: BaseException | None = None) -> None:
        hook = self.settings.get(name)
        if hook is None:
            return
        from artrepo.runtime import introspect

        if exc is not None and introspect.parameters(hook):
            hook(exc)
        else:
            hook()

    def _request(self, out, ctx) -> values.SaveRequest:
        removed = ctx.removed_output_tags[out.key]
        tags = [t for t in dict.fromkeys([*out.tags, *ctx.output_tags[out.key]]) if t not in removed]
        return values.SaveRequest(out.name, out.version, tags=tags, artifact_type=out.artifact_type,
                                  metadata={**out.run_metadata, **ctx.output_metadata[out.key]},
                                  materializer=out.materializer, origin="pipeline",
                                  producer={"run_id": self.run_id, "step": self.step, "output": out.key},
                                  extract_metadata=self.settings.get("extract_metadata", True),
                                  include_visualizations=self.settings.get("include_visualizations", True))

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

    def stage(self, value, request: values.SaveRequest, uri=None) -> values.Staged:
        with self.lock:
            step = request.producer["step"]
            if step not in self._holds:
                hold = self._holds[step] = self.repo.saving()
                hold.__enter__()
            return values.stage(self.workspace, value, request, uri)

    def output_folder(self):
        """A folder whose files a later `stage(..., uri=)` stores (`get_output_artifact_uri`)."""
        return values.output_folder(self.workspace)

    def version(self, stored: values.Stored):
        """The ArtifactVersion of a step input (`get_step_context().inputs`)."""
        from artrepo.models import ArtifactVersion
        from artrepo.repository import VersionInfo

        return ArtifactVersion(self.repo, VersionInfo(stored.id, stored.name, stored.version, stored.record))

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
