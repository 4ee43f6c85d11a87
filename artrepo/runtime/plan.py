"""From a pipeline call to a validated plan; every check runs before any step does.

Composing runs the pipeline body with `composing()` set, then applies the
`--config` settings, binds parameters and checks output names, custom
versions, missing inputs, late references and the DAG's order.
"""
from __future__ import annotations

from artrepo import names
from artrepo.errors import ConflictError, NotFoundError, UserError
from artrepo.runtime import context, introspect, options as known
from artrepo.runtime.cachekey import canonical_parameter
from artrepo.runtime.graph import Composition, ExternalArtifact, Invocation, LateArtifact, execution_order
from artrepo.plain import Plain
from artrepo.runtime.signature import OutputSpec
from artrepo.tags import validated_tags


class PlannedStep(Plain):
    """One step of the plan: its invocation, canonical parameters, outputs, whether it may be cached, and
    its settings (`extract_metadata`, `include_visualizations`, `on_failure`, `on_success`, `extra`)."""

    __slots__ = ("name", "invocation", "parameters", "outputs", "artifact_names", "cacheable", "why_not_cacheable",
                 "settings")

    def __init__(self, name: str, invocation: Invocation, parameters: dict[str, object],
                 outputs: tuple[OutputSpec, ...], artifact_names: dict[str, str], cacheable: bool,
                 why_not_cacheable: str | None = None, settings: dict | None = None):
        self.name, self.invocation = name, invocation
        self.parameters = parameters  # canonical, defaults included
        self.outputs = outputs
        self.artifact_names = artifact_names  # output key -> artifact name
        self.cacheable, self.why_not_cacheable = cacheable, why_not_cacheable
        self.settings = {} if settings is None else settings

    @property
    def step(self):
        return self.invocation.step


class Plan(Plain):
    """A validated pipeline run, before any step runs: its steps in execution order.

    `run_name` is the run's name template (`{date}`, `{time}` and the
    substitutions; None: ZenML's default), `tags` the run's tags.
    """

    __slots__ = ("pipeline", "parameters", "steps", "order", "parallel", "source", "run_name", "tags", "substitutions")

    def __init__(self, pipeline: str, parameters: dict[str, object], steps: dict[str, PlannedStep],
                 order: list[str], parallel: int = 1, source: str | None = None, run_name: str | None = None,
                 tags: tuple[str, ...] = (), substitutions: dict | None = None):
        self.pipeline, self.parameters, self.steps, self.order = pipeline, parameters, steps, order
        self.parallel, self.source = parallel, source
        self.run_name, self.tags = run_name, tags
        self.substitutions = {} if substitutions is None else substitutions

    def format_run_name(self, start_ns: int) -> str | None:
        """The run's name from its template, or None (the default name is derived when read)."""
        if self.run_name is None:
            return None
        import datetime as dt

        start = dt.datetime.fromtimestamp(start_ns / 1e9, tz=dt.timezone.utc)
        return format_name(self.run_name, start.strftime("%Y_%m_%d"), start.strftime("%H_%M_%S_%f"),
                           self.substitutions)


def format_name(template: str, date: str, time: str, substitutions: dict) -> str:
    """ZenML's name template: `{date}`, `{time}` and the substitutions; a one-line error for anything else."""
    try:
        name = template.format(**{"date": date, "time": time, **substitutions})
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(f"run_name {template!r}: unknown placeholder {exc} (known: "
                        f"{', '.join(sorted({'date', 'time', *substitutions}))})") from None
    if not name.strip():
        raise UserError(f"run_name {template!r} gives an empty name")
    return name


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
    config = known.checked("config", options.config or {}, known.CONFIG)
    call_args, call_kwargs, arguments = _pipeline_parameters(pipeline, args, kwargs, config, options.parameters or {})
    composition = Composition(pipeline.name)
    token = context._COMPOSING.set(composition)
    try:
        pipeline.entrypoint(*call_args, **call_kwargs)
    finally:
        context._COMPOSING.reset(token)
    if not composition.invocations:
        raise UserError(f"pipeline {pipeline.name!r} calls no step")
    defaults = {**pipeline.options, **config}  # the pipeline's settings, then its config file's
    step_configs = config.get("steps") or {}
    for name in step_configs:
        if name not in composition.invocations:
            raise UserError(f"config: pipeline {pipeline.name!r} has no step {name!r} "
                            f"(steps: {', '.join(composition.invocations)})")
    steps = {name: _plan_step(pipeline.name, inv, step_configs.get(name) or {}, defaults, options.no_cache)
             for name, inv in composition.invocations.items()}
    order = execution_order(composition.invocations)
    _check_custom_versions(steps)
    params = {k: _recordable(k, v) for k, v in arguments.items()}
    plan = Plan(pipeline.name, params, steps, order, parallel=options.parallel or pipeline.parallel,
                source=options.source, run_name=config.get("run_name"),
                tags=validated_tags(defaults.get("tags") or ()),
                substitutions=dict(defaults.get("substitutions") or {}))
    if plan.run_name is not None:
        format_name(str(plan.run_name), "date", "time", plan.substitutions)  # refused before any step runs
    return plan


def _step_settings(inv: Invocation, config: dict, defaults: dict) -> dict:
    """The step's artifact switches, hooks and `extra`: its config, then its own options, then the pipeline's."""
    own = inv.step.options
    sources = (config, own, defaults)
    return {"extract_metadata": bool(_first_set(sources, "enable_artifact_metadata", True)),
            "include_visualizations": bool(_first_set(sources, "enable_artifact_visualization", True)),
            "on_failure": _first_set(sources, "on_failure"), "on_success": _first_set(sources, "on_success"),
            "extra": {**(defaults.get("extra") or {}), **(own.get("extra") or {}), **(config.get("extra") or {})}}


def _first_set(sources: tuple[dict, ...], key: str, fallback=None):
    """The first of `sources` (most specific first) that sets `key` (not None), else `fallback`."""
    return next((source[key] for source in sources if source.get(key) is not None), fallback)


def _plan_step(pipeline: str, inv: Invocation, config: dict, defaults: dict, no_cache: bool) -> PlannedStep:
    config = known.checked(f"config: step {inv.name!r}", config, known.STEP_CONFIG)
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
    why = None
    if no_cache:
        why = "--no-cache"
    elif not _first_set((config, inv.step.options, defaults), "enable_cache", True):
        why = "enable_cache=False"
    elif any(isinstance(a, ExternalArtifact) for a in inv.artifacts.values()):
        why = "an ExternalArtifact input"
    return PlannedStep(inv.name, inv, params, outputs, artifact_names, why is None, why,
                       _step_settings(inv, config, defaults))


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
