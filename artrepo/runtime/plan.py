"""From a pipeline call to a validated plan; every check runs before any step does.

Composing runs the pipeline body with `composing()` set, then applies the
`--config` settings, binds parameters and checks output names, custom
versions, missing inputs, late references and the DAG's order.
"""
from __future__ import annotations

from artrepo import names
from artrepo.errors import ConflictError, NotFoundError, UserError
from artrepo.runtime import context, introspect
from artrepo.runtime.cachekey import canonical_parameter
from artrepo.runtime.graph import Composition, ExternalArtifact, Invocation, LateArtifact, execution_order
from artrepo.plain import Plain
from artrepo.runtime.signature import OutputSpec

_STEP_CONFIG_KEYS = {"parameters", "enable_cache", "outputs", "settings", "extra", "experiment_tracker",
                     "step_operator"}


class PlannedStep(Plain):
    """One step of the plan: its invocation, canonical parameters, outputs and whether it may be cached."""

    __slots__ = ("name", "invocation", "parameters", "outputs", "artifact_names", "cacheable", "why_not_cacheable")

    def __init__(self, name: str, invocation: Invocation, parameters: dict[str, object],
                 outputs: tuple[OutputSpec, ...], artifact_names: dict[str, str], cacheable: bool,
                 why_not_cacheable: str | None = None):
        self.name, self.invocation = name, invocation
        self.parameters = parameters  # canonical, defaults included
        self.outputs = outputs
        self.artifact_names = artifact_names  # output key -> artifact name
        self.cacheable, self.why_not_cacheable = cacheable, why_not_cacheable

    @property
    def step(self):
        return self.invocation.step


class Plan(Plain):
    """A validated pipeline run, before any step runs: its steps in execution order."""

    __slots__ = ("pipeline", "parameters", "steps", "order", "parallel", "source", "warnings")

    def __init__(self, pipeline: str, parameters: dict[str, object], steps: dict[str, PlannedStep],
                 order: list[str], parallel: int = 1, source: str | None = None, warnings: list[str] | None = None):
        self.pipeline, self.parameters, self.steps, self.order = pipeline, parameters, steps, order
        self.parallel, self.source = parallel, source
        self.warnings = [] if warnings is None else warnings


def _pipeline_parameters(pipeline, args: tuple, kwargs: dict, config: dict,
                         overrides: dict) -> tuple[tuple, dict, dict]:
    """(args, kwargs, arguments) of the pipeline function, defaults applied."""
    merged = {**(config.get("parameters") or {}), **kwargs, **overrides}
    try:
        return introspect.bind(pipeline.entrypoint, args, merged)
    except TypeError as exc:
        raise UserError(f"pipeline {pipeline.name!r}: {exc}") from None


def _recordable(name: str, value):
    try:
        return canonical_parameter(name, value)
    except UserError:
        return repr(value)


def compose(pipeline, args: tuple, kwargs: dict, options) -> Plan:
    """Run the pipeline body to wire the DAG, then validate it (nothing is written)."""
    config = options.config or {}
    unknown = set(config) - {"parameters", "steps", "enable_cache", "settings", "extra", "run_name", "model"}
    if unknown:
        raise UserError(f"config: unknown key {sorted(unknown)[0]!r} (expected parameters, steps, enable_cache)")
    call_args, call_kwargs, arguments = _pipeline_parameters(pipeline, args, kwargs, config, options.parameters or {})
    composition = Composition(pipeline.name)
    token = context._COMPOSING.set(composition)
    try:
        pipeline.entrypoint(*call_args, **call_kwargs)
    finally:
        context._COMPOSING.reset(token)
    if not composition.invocations:
        raise UserError(f"pipeline {pipeline.name!r} calls no step")
    enable_cache = config.get("enable_cache", pipeline.enable_cache)
    step_configs = config.get("steps") or {}
    for name in step_configs:
        if name not in composition.invocations:
            raise UserError(f"config: pipeline {pipeline.name!r} has no step {name!r} "
                            f"(steps: {', '.join(composition.invocations)})")
    steps = {name: _plan_step(pipeline.name, inv, step_configs.get(name) or {}, enable_cache, options.no_cache)
             for name, inv in composition.invocations.items()}
    order = execution_order(composition.invocations)
    _check_custom_versions(steps)
    params = {k: _recordable(k, v) for k, v in arguments.items()}
    return Plan(pipeline.name, params, steps, order, parallel=options.parallel or pipeline.parallel,
                source=options.source)


def _plan_step(pipeline: str, inv: Invocation, config: dict, enable_cache, no_cache: bool) -> PlannedStep:
    unknown = set(config) - _STEP_CONFIG_KEYS
    if unknown:
        raise UserError(f"config: step {inv.name!r}: unknown key {sorted(unknown)[0]!r}")
    for key, value in (config.get("parameters") or {}).items():
        if key not in inv.step.input_names:
            raise UserError(f"config: step {inv.name!r} has no parameter {key!r}")
        if key in inv.artifacts:
            raise UserError(f"config: step {inv.name!r} input {key!r} is an artifact, not a parameter")
        inv.parameters[key] = value
    params = {}
    for pname, kind, default in introspect.parameters(inv.step.entrypoint):
        if pname in inv.artifacts:
            continue
        if pname in inv.parameters:
            params[pname] = canonical_parameter(pname, inv.parameters[pname])
        elif default is not introspect.EMPTY:
            params[pname] = canonical_parameter(pname, default)
        elif kind not in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            raise UserError(f"step {inv.name!r} is missing input {pname!r}: pass a step output, an artifact "
                            "or a value")
    overrides = config.get("outputs") or {}
    keys = {s.key for s in inv.step.outputs}
    for key in overrides:
        if key not in keys:
            raise UserError(f"config: step {inv.name!r} has no output {key!r} (outputs: {', '.join(sorted(keys))})")
    outputs = tuple(s.with_overrides(overrides.get(s.key) or {}) for s in inv.step.outputs)
    artifact_names = {}
    for spec in outputs:
        artifact_names[spec.key] = names.validate_name(spec.artifact_name(pipeline, inv.name))
        if spec.version is not None:
            names.validate_version(spec.version)
    step_cache = config.get("enable_cache", inv.step.enable_cache)
    cache_on = step_cache if step_cache is not None else (enable_cache if enable_cache is not None else True)
    why = None
    if no_cache:
        why = "--no-cache"
    elif not cache_on:
        why = "enable_cache=False"
    elif any(isinstance(a, ExternalArtifact) for a in inv.artifacts.values()):
        why = "an ExternalArtifact input"
    return PlannedStep(inv.name, inv, params, outputs, artifact_names, why is None, why)


def _check_custom_versions(steps: dict[str, PlannedStep]) -> None:
    seen = {}
    for ps in steps.values():
        for spec in ps.outputs:
            if spec.version is None:
                continue
            label = (ps.artifact_names[spec.key], spec.version)
            if label in seen:
                raise ConflictError(f"steps {seen[label]!r} and {ps.name!r} both save version {label[0]}:{label[1]}")
            seen[label] = ps.name


def check_late_artifacts(repo, plan: Plan) -> None:
    """Late references (`Client().get_artifact_version` in the body) that resolve to nothing.

    Custom versions that already exist are the driver's to judge: a step
    served from cache saves nothing, so only one that must run conflicts.
    """
    produced = {n for ps in plan.steps.values() for n in ps.artifact_names.values()}
    for ps in plan.steps.values():
        for input_name, source in ps.invocation.artifacts.items():
            if isinstance(source, LateArtifact):
                _check_late(repo, ps.name, input_name, source, produced)


def _check_late(repo, step: str, input_name: str, late: LateArtifact, produced: set[str]) -> None:
    try:
        repo.resolve(late.reference, late.version)
    except NotFoundError as exc:
        ref = names.parse_reference(late.reference)
        if late.version is None and ref.version is None and ref.alias is None and ref.name in produced:
            return  # a step of this run makes it before this step runs
        raise NotFoundError(f"step {step!r} input {input_name!r}: {exc}") from None
