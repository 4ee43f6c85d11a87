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
                 "enable_artifact_visualization", "enable_step_logs"}
_PIPELINE_OPTIONS = {"name", "enable_cache", "parallel", "settings", "extra", "on_failure", "on_success",
                     "model", "enable_artifact_metadata", "enable_artifact_visualization", "enable_step_logs",
                     "tags"}


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
        self.outputs = signature.output_specs(func)
        self.input_names = signature.input_names(func)
        self._code: tuple[list, str] | None = None  # (runtime.codehash.code_parts, their hash), found once
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
        return self._parts()[1]

    @property
    def code_text(self) -> str:
        """The source the code hash covers (the step's, its helpers', the constants they read), as one text."""
        from artrepo.runtime.codehash import code_text

        return code_text(self._parts()[0])

    def _parts(self) -> tuple[list, str]:
        if self._code is None:
            from artrepo.runtime.codehash import code_parts, hash_parts

            parts = code_parts(self.entrypoint)
            self._code = parts, hash_parts(parts)
        return self._code

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
        return clone

    configure = with_options


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
