"""Where the API learns whether it runs inside a step or a pipeline body.

    @step
    def trainer(...) -> Annotated[Model, "model"]:
        get_step_context().add_output_metadata(output_name="model", metadata={"acc": 0.9})
"""
from __future__ import annotations

import contextvars

from artrepo.errors import UserError

_STEP: contextvars.ContextVar = contextvars.ContextVar("artrepo_step", default=None)
_COMPOSING: contextvars.ContextVar = contextvars.ContextVar("artrepo_composing", default=None)


def current_step():
    """The running step's context, or None outside a step."""
    return _STEP.get()


def composing():
    """The pipeline being composed (inside a pipeline body), or None."""
    return _COMPOSING.get()


class StepContext:
    """The running step: its names, its outputs, metadata or tags added to them, versions it saved."""

    def __init__(self, pipeline_name: str, step_name: str, run_id: str, outputs: dict[str, str], store):
        self.pipeline_name = pipeline_name
        self.step_name = step_name
        self.run_id = run_id
        self._outputs = dict(outputs)  # output key -> artifact name
        self._store = store  # where save_artifact saves (runtime.task)
        self.output_metadata: dict[str, dict] = {k: {} for k in outputs}
        self.output_tags: dict[str, list[str]] = {k: [] for k in outputs}
        self.saved: dict[str, tuple[str, str]] = {}  # artifact name -> (version id, label) saved inside the step
        self.pending: dict[str, object] = {}  # artifact name -> values.Staged, staged on a worker (driver publishes)

    def __repr__(self) -> str:
        return f"StepContext(step={self.step_name!r}, pipeline={self.pipeline_name!r}, run_id={self.run_id[:12]!r})"

    def _output_key(self, output_name: str | None) -> str:
        if output_name is None:
            if len(self._outputs) != 1:
                raise UserError(f"step {self.step_name!r} has {len(self._outputs)} outputs: "
                                f"name one of {sorted(self._outputs)}")
            return next(iter(self._outputs))
        for key, artifact in self._outputs.items():
            if output_name in (key, artifact):
                return key
        raise UserError(f"step {self.step_name!r} has no output {output_name!r} "
                        f"(outputs: {', '.join(sorted(self._outputs)) or 'none'})")

    def has_output(self, output_name: str | None) -> bool:
        if output_name is None:
            return len(self._outputs) == 1
        return any(output_name in (k, a) for k, a in self._outputs.items())

    def add_output_metadata(self, metadata: dict | None = None, output_name: str | None = None) -> None:
        from artrepo.values import validate_metadata

        self.output_metadata[self._output_key(output_name)].update(validate_metadata(metadata))

    def add_output_tags(self, tags=None, output_name: str | None = None) -> None:
        from artrepo.values import validate_tags

        key = self._output_key(output_name)
        self.output_tags[key].extend(t for t in validate_tags(tags) if t not in self.output_tags[key])

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


def get_step_context() -> StepContext:
    """The context of the running step; a clear error outside a step."""
    ctx = _STEP.get()
    if ctx is None:
        raise UserError("get_step_context() works only inside a running step")
    return ctx
