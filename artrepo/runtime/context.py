"""Where the API learns whether it runs inside a step or a pipeline body.

    @step
    def trainer(...) -> Annotated[Model, "model"]:
        get_step_context().add_output_metadata(output_name="model", metadata={"acc": 0.9})
"""
from __future__ import annotations

import contextvars

from artrepo.errors import StepContextError, UserError
from artrepo.tags import validated_tags

_STEP: contextvars.ContextVar = contextvars.ContextVar("artrepo_step", default=None)
_COMPOSING: contextvars.ContextVar = contextvars.ContextVar("artrepo_composing", default=None)


def current_step():
    """The running step's context, or None outside a step."""
    return _STEP.get()


def composing():
    """The pipeline being composed (inside a pipeline body), or None."""
    return _COMPOSING.get()


class StepContext:
    """The running step: its names, its run, its inputs and outputs, metadata and tags added to them.

    What the step adds is collected here and recorded by the driver:
    `output_metadata` / `output_tags` / `removed_output_tags` per output key,
    `step_metadata` and `run_metadata` (ZenML's `log_metadata()` on the step
    run or the pipeline run), and `saved`, the versions `save_artifact` made.
    """

    def __init__(self, task, store):
        self.pipeline_name = task.pipeline
        self.step_name = task.step
        self.run_id = task.run_id
        self._task = task
        self._outputs = {o.key: o.name for o in task.outputs}  # output key -> artifact name
        self._store = store  # where save_artifact saves (runtime.task)
        self.output_metadata: dict[str, dict] = {k: {} for k in self._outputs}
        self.output_tags: dict[str, list[str]] = {k: [] for k in self._outputs}
        self.removed_output_tags: dict[str, list[str]] = {k: [] for k in self._outputs}
        self.step_metadata: dict = {}
        self.run_metadata: dict = {}
        self.saved: dict[str, tuple[str, str]] = {}  # artifact name -> (version id, label) saved inside the step
        self.pending: dict[str, object] = {}  # artifact name -> values.Staged, staged on a worker (driver publishes)
        self.output_uris: dict[str, str] = {}  # output key -> folder from get_output_artifact_uri
        self._inputs = None

    def __repr__(self) -> str:
        return f"StepContext(step={self.step_name!r}, pipeline={self.pipeline_name!r}, run_id={self.run_id[:12]!r})"

    # -- ZenML's read-only views of the step, its run and its pipeline -------------------
    is_active = True
    pipeline_state = None  # ZenML's on_init hook result: artrepo has no on_init hook

    @property
    def pipeline(self):
        """The pipeline (`.name`, `.runs`, `.last_run`), as `Client().get_pipeline` returns it."""
        from artrepo.models import NamedPipeline

        return NamedPipeline(self._store.repo if hasattr(self._store, "repo") else None, self.pipeline_name)

    @property
    def pipeline_run(self) -> "RunningRun":
        return RunningRun(self)

    @property
    def step_run(self) -> "RunningStep":
        return RunningStep(self)

    @property
    def inputs(self) -> dict:
        """{input name: [ArtifactVersion]}, ZenML's shape (a one-item list per input, which also answers as it)."""
        if self._inputs is None:
            from artrepo.listing import VersionList

            self._inputs = {k: VersionList([self._store.version(stored)]) for k, stored in self._task.inputs.items()}
        return self._inputs

    @property
    def model(self):
        raise StepContextError("artrepo has no model registry: a step has no model; save models as artifacts")

    model_version = model

    # -- outputs ---------------------------------------------------------------------------
    def _output_key(self, output_name: str | None) -> str:
        if output_name is None:
            if len(self._outputs) != 1:
                if not self._outputs:
                    raise StepContextError(f"Unable to get step output for step `{self.step_name}`: "
                                           "This step does not have any outputs.")
                raise StepContextError(f"Unable to get step output for step `{self.step_name}`: This step has "
                                       f"multiple outputs ({set(self._outputs)}), please specify which output "
                                       "to return.")
            return next(iter(self._outputs))
        for key, artifact in self._outputs.items():
            if output_name in (key, artifact):
                return key
        raise StepContextError(f"Unable to get step output for step `{self.step_name}`: no output "
                               f"{output_name!r} (outputs: {', '.join(sorted(self._outputs)) or 'none'})")

    def has_output(self, output_name: str | None) -> bool:
        if output_name is None:
            return len(self._outputs) == 1
        return any(output_name in (k, a) for k, a in self._outputs.items())

    def add_output_metadata(self, metadata: dict | None = None, output_name: str | None = None) -> None:
        from artrepo.values import validate_metadata

        self.output_metadata[self._output_key(output_name)].update(validate_metadata(metadata))

    def get_output_metadata(self, output_name: str | None = None) -> dict:
        return dict(self.output_metadata[self._output_key(output_name)])

    def add_output_tags(self, tags=None, output_name: str | None = None) -> None:
        self._move_tags(tags, output_name, self.output_tags, self.removed_output_tags)

    def remove_output_tags(self, tags=None, output_name: str | None = None) -> None:
        """Leave these tags off the output (those of its `ArtifactConfig` included)."""
        self._move_tags(tags, output_name, self.removed_output_tags, self.output_tags)

    def _move_tags(self, tags, output_name: str | None, into: dict[str, list], out_of: dict[str, list]) -> None:
        key = self._output_key(output_name)
        for t in validated_tags(tags):
            if t not in into[key]:
                into[key].append(t)
            if t in out_of[key]:
                out_of[key].remove(t)

    def get_output_tags(self, output_name: str | None = None) -> list[str]:
        key = self._output_key(output_name)
        spec = next(o for o in self._task.outputs if o.key == key)
        return [t for t in dict.fromkeys([*spec.tags, *self.output_tags[key]]) if t not in self.removed_output_tags[key]]

    def get_output_artifact_uri(self, output_name: str | None = None) -> str:
        """A folder for this output: files written there are stored with the value the step returns."""
        key = self._output_key(output_name)
        if key not in self.output_uris:
            self.output_uris[key] = str(self._store.output_folder())
        return self.output_uris[key]

    def get_output_materializer(self, output_name: str | None = None, custom_materializer_class=None,
                                data_type=None):
        """A materializer for this output, at its `get_output_artifact_uri()` folder."""
        from artrepo.materializers import registry

        key = self._output_key(output_name)
        spec = next(o for o in self._task.outputs if o.key == key)
        cls = custom_materializer_class or spec.materializer
        if cls is None:
            wanted = data_type or spec.data_type
            cls = registry.for_type(wanted if isinstance(wanted, type) else object)
        return cls(self.get_output_artifact_uri(key))

    def save_artifact(self, data, name: str, version=None, **settings):
        """`save_artifact` inside this step: saved at once, and recorded as an output of the step."""
        producer = {"run_id": self.run_id, "step": self.step_name, "output": name}
        info = self._store.save(data, name, version, producer=producer, **settings)
        staged = getattr(info, "staged", None)
        if staged is not None:  # staged on a worker: the driver publishes it when the step ends
            self.pending[info.name] = staged
        else:
            self.saved[info.name] = (info.id, info.version)
        return info


class _Running:
    status = "running"

    def __init__(self, ctx: StepContext):
        self._ctx = ctx


class RunningRun(_Running):
    """The run in progress, as `get_step_context().pipeline_run` (`.id`, `.name`, `.pipeline`, `.status`)."""

    id = property(lambda self: self._ctx.run_id)
    name = property(lambda self: self._ctx._task.run_name)
    pipeline = property(lambda self: self._ctx.pipeline)
    run_metadata = property(lambda self: dict(self._ctx.run_metadata))

    def __repr__(self) -> str:
        return f"PipelineRun({self.name}, running, id={self.id[:12]})"


class RunningStep(_Running):
    """The running step, as `get_step_context().step_run` (`.name`, `.status`, `.config`, `.inputs`)."""

    name = property(lambda self: self._ctx.step_name)
    pipeline_run_id = property(lambda self: self._ctx.run_id)
    inputs = property(lambda self: self._ctx.inputs)
    run_metadata = property(lambda self: dict(self._ctx.step_metadata))

    @property
    def config(self):
        from artrepo.listing import StepConfig

        task = self._ctx._task
        return StepConfig(task.step, task.parameters, task.settings.get("extra") or {})

    def __repr__(self) -> str:
        return f"StepRun({self.name}, running, run={self._ctx.run_id[:12]})"


def get_step_context() -> StepContext:
    """The context of the running step; a clear error outside a step."""
    ctx = _STEP.get()
    if ctx is None:
        raise UserError("get_step_context() works only inside a running step")
    return ctx
