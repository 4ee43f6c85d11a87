"""`@step` and `@pipeline`, bare or with options.

    @step
    def loader() -> Annotated[list, "numbers"]: return [1, 2, 3]

    @pipeline(enable_cache=True)
    def numbers_pipeline(): loader()

    run = numbers_pipeline()          # runs in the current repository, returns a PipelineRun
"""
from __future__ import annotations

import functools

from artrepo.errors import UserError
from artrepo.runtime import context, signature

_STEP_OPTIONS = {"name", "enable_cache", "output_materializers", "settings", "extra", "experiment_tracker",
                 "step_operator", "on_failure", "on_success", "retry", "model", "enable_artifact_metadata",
                 "enable_artifact_visualization", "enable_step_logs", "resources", "retries"}
_PIPELINE_OPTIONS = {"name", "enable_cache", "parallel", "settings", "extra", "on_failure", "on_success",
                     "model", "enable_artifact_metadata", "enable_artifact_visualization", "enable_step_logs",
                     "tags", "orchestrator"}


def _check_options(kind: str, options: dict, allowed: set[str]) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise UserError(f"@{kind} has no option {sorted(unknown)[0]!r}")


class Step:
    """A step function. Called inside a pipeline body it wires the DAG; outside, it just runs."""

    def __init__(self, func, **options):
        _check_options("step", options, _STEP_OPTIONS)
        self.entrypoint = func
        self.name = options.get("name") or func.__name__
        self.enable_cache: bool | None = options.get("enable_cache")
        self.output_materializers = options.get("output_materializers")
        self.resources = _resources(options.get("resources"))  # {"GPU": 1}: what a worker must offer (Dask)
        self.retries = _retries(options.get("retries"))  # attempts after the first when the step raises
        self.outputs = signature.output_specs(func)
        self.input_names = signature.input_names(func)
        self._code_hash: str | None = None
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<step {self.name}>"

    def __call__(self, *args, **kwargs):
        composition = context.composing()
        if composition is None:
            return self.entrypoint(*args, **kwargs)
        return composition.add(self, args, kwargs)

    @property
    def code_hash(self) -> str:
        if self._code_hash is None:
            from artrepo.runtime.codehash import code_hash

            self._code_hash = code_hash(self.entrypoint)
        return self._code_hash

    def materializer_for(self, key: str):
        """The materializer named by `output_materializers` for output `key`, if any."""
        chosen = self.output_materializers
        if isinstance(chosen, dict):
            return chosen.get(key)
        return chosen

    def with_options(self, **options) -> "Step":
        _check_options("step", options, _STEP_OPTIONS)
        import copy  # with_options only: not on the path of a plain run

        clone = copy.copy(self)
        for key in ("name", "enable_cache", "output_materializers"):
            if key in options:
                setattr(clone, key, options[key])
        if "resources" in options:
            clone.resources = _resources(options["resources"])
        if "retries" in options:
            clone.retries = _retries(options["retries"])
        return clone

    configure = with_options


class Pipeline:
    """A pipeline function; calling it composes the DAG and runs it, returning a `PipelineRun`."""

    def __init__(self, func, **options):
        _check_options("pipeline", options, _PIPELINE_OPTIONS)
        self.entrypoint = func
        self.name = options.get("name") or func.__name__
        self.enable_cache: bool | None = options.get("enable_cache")
        self.parallel: int = int(options.get("parallel") or 1)
        self.orchestrator = _orchestrator(options.get("orchestrator"))
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"

    def __call__(self, *args, **kwargs):
        from artrepo.runtime.driver import RunOptions, run_pipeline

        return run_pipeline(self, args, kwargs, RunOptions())

    def with_options(self, **options) -> "Pipeline":
        _check_options("pipeline", options, _PIPELINE_OPTIONS)
        import copy  # with_options only: not on the path of a plain run

        clone = copy.copy(self)
        for key in ("name", "enable_cache"):
            if key in options:
                setattr(clone, key, options[key])
        if "parallel" in options:
            clone.parallel = int(options["parallel"] or 1)
        if "orchestrator" in options:
            clone.orchestrator = _orchestrator(options["orchestrator"])
        return clone

    configure = with_options


def _resources(value) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, (int, float))
                                              and not isinstance(v, bool) and v > 0 for k, v in value.items()):
        raise UserError(f"resources must map resource names to positive amounts, as {{'GPU': 1}}; got {value!r}")
    return dict(value)


def _retries(value) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UserError(f"retries must be a number of attempts (0 or more), got {value!r}")
    return value


def _orchestrator(value):
    if value is None:
        return None
    from artrepo.stacks import orchestrator_of

    return orchestrator_of(value)


def _decorator(cls, func, options: dict[str, object]):
    if func is not None:
        if not callable(func):
            raise UserError(f"@{cls.__name__.lower()} decorates a function, not {type(func).__name__}")
        return cls(func, **options)
    return lambda f: cls(f, **options)


def step(func=None, **options):
    """Make a function a pipeline step: `@step` or `@step(enable_cache=False, name=...)`."""
    return _decorator(Step, func, options)


def pipeline(func=None, **options):
    """Make a function a pipeline: `@pipeline` or `@pipeline(enable_cache=False, parallel=2)`."""
    return _decorator(Pipeline, func, options)
