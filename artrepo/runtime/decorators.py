"""`@step` and `@pipeline`, bare or with options.

    @step
    def loader() -> Annotated[list, "numbers"]: return [1, 2, 3]

    @pipeline(enable_cache=True)
    def numbers_pipeline(): loader()

    run = numbers_pipeline()          # runs in the current repository, returns a PipelineRun

As in ZenML, `configure(...)` changes a step or pipeline in place and returns
it; `with_options(...)` returns a configured copy. Options artrepo does not
implement are one-line errors (runtime/options.py).
"""
from __future__ import annotations

import functools

from artrepo.errors import UserError
from artrepo.runtime import context, options as known, signature


class _Configurable:
    """What steps and pipelines share: a function and the options it was configured with."""

    KIND = ""
    __slots__ = ()

    def _configure(self, merge: bool, given: dict) -> None:
        given = known.checked(self.KIND, given)
        for name in ("on_failure", "on_success"):
            if name in given:
                given[name] = known.hook(self.KIND, name, given[name])
        for name, check in (("resources", _resources), ("retries", _retries), ("orchestrator", _orchestrator)):
            if name in given:
                given[name] = check(given[name])
        if merge:
            if "extra" in given and "extra" in self.options:
                given["extra"] = {**self.options["extra"], **given["extra"]}
            self.options = {**self.options, **given}
        else:
            self.options = given

    @property
    def name(self) -> str:
        return self.options.get("name") or self.entrypoint.__name__

    @property
    def enable_cache(self) -> bool | None:
        return self.options.get("enable_cache")

    @property
    def configuration(self) -> known.Configuration:
        return known.Configuration({"name": self.name, **self.options})

    def configure(self, merge: bool = True, **options):
        """Set options in place (ZenML's `configure`); returns the step or pipeline.

            training.configure(enable_cache=False)
        """
        self._configure(merge, options)
        return self

    def __repr__(self) -> str:
        return f"<{self.KIND} {self.name}>"

    def _copy(self):
        import copy  # with_options only: not on the path of a plain run

        clone = copy.copy(self)
        clone.options = dict(self.options)
        return clone


class Step(_Configurable):
    """A step function. Called inside a pipeline body it wires the DAG; outside, it just runs."""

    KIND = "step"

    def __init__(self, func, **options):
        self.entrypoint = func
        self.options: dict = {}
        self._configure(True, options)
        self.outputs = signature.output_specs(func)
        self.input_names = signature.input_names(func)
        self._code: tuple[list, str] | None = None  # (runtime.codehash.code_parts, their hash), found once
        functools.update_wrapper(self, func)

    def __call__(self, *args, **kwargs):
        composition = context.composing()
        if composition is None:
            return self.entrypoint(*args, **kwargs)
        return composition.add(self, args, kwargs)

    @property
    def resources(self) -> dict[str, float]:
        """What a worker must offer to run it ({"GPU": 1}; Dask resources)."""
        return self.options.get("resources") or {}

    @property
    def retries(self) -> int:
        """Attempts after the first when the step raises."""
        return self.options.get("retries") or 0

    @property
    def output_materializers(self):
        return self.options.get("output_materializers")

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

    def with_options(self, merge: bool = True, **options) -> "Step":
        """A copy of the step with these options."""
        return self._copy().configure(merge, **options)


class Pipeline(_Configurable):
    """A pipeline function; calling it composes the DAG and runs it, returning a `PipelineRun`."""

    KIND = "pipeline"

    def __init__(self, func, **options):
        self.entrypoint = func
        self.options: dict = {}
        self.run_name: str | None = None
        self.config_path: str | None = None
        self.step_configurations: dict = {}
        self._configure(True, options)
        functools.update_wrapper(self, func)

    @property
    def parallel(self) -> int:
        return int(self.options.get("parallel") or 1)

    @property
    def orchestrator(self):
        """The orchestrator given in code (replaces the stack's for this pipeline), or None."""
        return self.options.get("orchestrator")

    def __call__(self, *args, **kwargs):
        from artrepo.runtime.driver import RunOptions, run_pipeline

        return run_pipeline(self, args, kwargs, RunOptions(config=self.run_config()))

    def with_options(self, run_name: str | None = None, config_path: str | None = None, steps: dict | None = None,
                     step_configurations: dict | None = None, merge: bool = True, **options) -> "Pipeline":
        """A copy with these options, a run name template (`{date}`, `{time}`) or a config file.

            training.with_options(run_name="nightly_{date}", config_path="prod.yaml")()
        """
        clone = self._copy()
        clone.step_configurations = dict(self.step_configurations)
        for step, config in {**(step_configurations or {}), **(steps or {})}.items():
            clone.step_configurations[step] = {**clone.step_configurations.get(step, {}), **config}
        if run_name is not None:
            clone.run_name = run_name
        if config_path is not None:
            clone.config_path = str(config_path)
        return clone.configure(merge, **options)

    def run_config(self, overrides: dict | None = None) -> dict:
        """The run's config: the config file, then `with_options` settings, then `overrides` (`--config`)."""
        config = known.read_config(self.config_path) if self.config_path else {}
        if self.step_configurations:
            config["steps"] = self.step_configurations
        if self.run_name is not None:
            config["run_name"] = self.run_name
        return known.merge_configs(config, overrides or {})


def _resources(value) -> dict[str, float]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, (int, float))
                                              and not isinstance(v, bool) and v > 0 for k, v in value.items()):
        raise UserError(f"resources must map resource names to positive amounts, as {{'GPU': 1}}; got {value!r}")
    return dict(value)


def _retries(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UserError(f"retries must be a number of attempts (0 or more), got {value!r}")
    return value


def _orchestrator(value):
    from artrepo.stacks import orchestrator_of

    return orchestrator_of(value)


def _decorator(cls, func, options: dict[str, object]):
    if func is not None:
        if not callable(func):
            raise UserError(f"@{cls.KIND} decorates a function, not {type(func).__name__}")
        return cls(func, **options)
    return lambda f: cls(f, **options)


def step(func=None, **options):
    """Make a function a pipeline step: `@step` or `@step(enable_cache=False, name=...)`."""
    return _decorator(Step, func, options)


def pipeline(func=None, **options):
    """Make a function a pipeline: `@pipeline` or `@pipeline(enable_cache=False, parallel=2)`."""
    return _decorator(Pipeline, func, options)
