"""The DAG a pipeline body wires: step invocations, their inputs and output handles.

Calling a step inside a pipeline body does not run it: it adds an
`Invocation` to the `Composition` and returns `OutputHandle`s that later
steps take as inputs. Nothing here touches the repository.
"""
from __future__ import annotations

import sys

from artrepo.errors import UserError
from artrepo.plain import Frozen, Plain


class ExternalArtifact(Plain):
    """A value passed into a step as a new artifact; turns caching off for that step.

        trainer(data=ExternalArtifact(value=np.arange(10)))

    `store_artifact_metadata=False` / `store_artifact_visualizations=False`
    save it without the materializer's metadata / visualizations (ZenML's).
    """

    __slots__ = ("value", "name", "materializer", "store_artifact_metadata", "store_artifact_visualizations")

    def __init__(self, value: object = None, name: str | None = None, materializer: object = None,
                 store_artifact_metadata: bool = True, store_artifact_visualizations: bool = True):
        self.value, self.name, self.materializer = value, name, materializer
        self.store_artifact_metadata = store_artifact_metadata
        self.store_artifact_visualizations = store_artifact_visualizations


class LateArtifact(Frozen):
    """`Client().get_artifact_version(...)` inside a pipeline body: resolved when the step runs."""

    __slots__ = ("reference", "version")

    def __init__(self, reference: str, version: str | None = None):
        self._init(reference=reference, version=version)

    def __str__(self) -> str:
        return self.reference if self.version is None else f"{self.reference}:{self.version}"


class OutputHandle(Frozen):
    """An output of an invocation, to be passed to later steps."""

    __slots__ = ("step", "key")

    def __init__(self, step: str, key: str):
        self._init(step=step, key=key)

    def __repr__(self) -> str:
        return f"OutputHandle({self.step}.{self.key})"


class Invocation(Plain):
    """One call of a step in a pipeline: artifact inputs, parameters and explicit ordering."""

    __slots__ = ("name", "step", "artifacts", "parameters", "after")

    def __init__(self, name: str, step):
        self.name = name
        self.step = step  # decorators.Step
        self.artifacts: dict[str, object] = {}  # input -> OutputHandle | LateArtifact | ExternalArtifact | ...
        self.parameters: dict[str, object] = {}
        self.after: set[str] = set()

    @property
    def upstream(self) -> list[str]:
        deps = {a.step for a in self.artifacts.values() if isinstance(a, OutputHandle)} | self.after
        return sorted(deps)


def _is_artifact_input(value) -> bool:
    if isinstance(value, (OutputHandle, LateArtifact, ExternalArtifact)):
        return True
    models = sys.modules.get("artrepo.models")  # no ArtifactVersion exists before it is imported
    return models is not None and isinstance(value, models.ArtifactVersion)


class Composition:
    """The pipeline being composed: `composing()` returns it inside a pipeline body."""

    def __init__(self, pipeline_name: str):
        self.pipeline_name = pipeline_name
        self.invocations: dict[str, Invocation] = {}

    def late_artifact(self, name_id_or_prefix, version=None) -> LateArtifact:
        return LateArtifact(str(name_id_or_prefix), None if version is None else str(version))

    def _new_name(self, base: str, explicit: str | None) -> str:
        if explicit is not None:
            if explicit in self.invocations:
                raise UserError(f"pipeline {self.pipeline_name!r} already has a step with id {explicit!r}")
            return explicit
        name, n = base, 1
        while name in self.invocations:
            n += 1
            name = f"{base}_{n}"
        return name

    def add(self, step, args: tuple, kwargs: dict):
        """Record a call of `step`; returns its output handle(s) as the step would return values."""
        kwargs = dict(kwargs)
        explicit_id = kwargs.pop("id", None)
        after = kwargs.pop("after", None)
        name = self._new_name(step.name, explicit_id)
        inputs = step.input_names
        if len(args) > len(inputs):
            raise UserError(f"step {name!r} takes {len(inputs)} inputs but {len(args)} were given")
        bound = dict(zip(inputs, args))
        for key, value in kwargs.items():
            if key not in inputs:
                raise UserError(f"step {name!r} has no input {key!r} (inputs: {', '.join(inputs) or 'none'})")
            if key in bound:
                raise UserError(f"step {name!r} got input {key!r} twice")
            bound[key] = value
        inv = Invocation(name, step)
        for key, value in bound.items():
            (inv.artifacts if _is_artifact_input(value) else inv.parameters)[key] = value
        inv.after = {self._after_name(a) for a in _as_list(after)}
        self.invocations[name] = inv
        handles = tuple(OutputHandle(name, spec.key) for spec in step.outputs)
        if not handles:
            return None
        return handles[0] if len(handles) == 1 else handles

    def _after_name(self, target) -> str:
        if isinstance(target, OutputHandle):
            return target.step
        if isinstance(target, tuple) and target and isinstance(target[0], OutputHandle):
            return target[0].step
        name = getattr(target, "name", target)
        if not isinstance(name, str):
            raise UserError(f"after= takes step names or step outputs, not {type(target).__name__}")
        return name


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, set)) else [value]


def execution_order(invocations: dict[str, Invocation]) -> list[str]:
    """Steps in a deterministic topological order; a cycle or an unknown step is a clear error."""
    for inv in invocations.values():
        for dep in inv.upstream:
            if dep not in invocations:
                raise UserError(f"step {inv.name!r} depends on {dep!r}, which is not a step of this pipeline")
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise UserError(f"pipeline steps form a cycle: {' -> '.join(cycle)}")
        state[name] = 1
        for dep in invocations[name].upstream:
            visit(dep, path + [name])
        state[name] = 2
        order.append(name)

    for name in invocations:
        visit(name, [])
    return order
