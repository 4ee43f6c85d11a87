"""The options of `@step`, `@pipeline` and a run's config file, by ZenML's names: what artrepo does with each.

An option artrepo implements is kept; one it does not implement is a
one-line error naming it (never accepted and dropped); `None` is an option
not given. Logging and heartbeat switches are accepted when off, which is
what artrepo does anyway.

    checked("step", {"enable_cache": False, "experiment_tracker": "mlflow"})
    # UserError: @step option 'experiment_tracker' is not supported: artrepo has no experiment trackers
"""
from __future__ import annotations

from artrepo.errors import UserError

_HOOKS = "artrepo runs the on_failure and on_success hooks only"
# ZenML options artrepo does not implement, and why (the error says it).
UNSUPPORTED = {
    "experiment_tracker": "artrepo has no experiment trackers; log metrics as metadata (log_metadata)",
    "step_operator": "steps run where the pipeline runs",
    "model": "artrepo has no model registry; save models as artifacts",
    "settings": "artrepo has no stack component settings (Docker, resources, ...)",
    "environment": "artrepo sets no environment variables for steps",
    "secrets": "artrepo has no secrets store",
    "retry": "use artrepo's retries=N (attempts after the first when the step raises)",
    "cache_policy": "artrepo's cache key is fixed (docs/format.md, cache key)",
    "step_type": "artrepo has one kind of step", "runtime": "steps run in the pipeline's process",
    "heartbeat_healthy_threshold": "artrepo has no step heartbeats", "group": "artrepo does not group steps",
    "dynamic": "artrepo pipelines are static", "depends_on": "pass step outputs or after= to order steps",
    "execution_mode": "a failed step skips the steps downstream of it, and others go on",
    "on_start": _HOOKS, "on_end": _HOOKS, "on_pause": _HOOKS, "on_resume": _HOOKS, "on_init": _HOOKS,
    "on_init_kwargs": _HOOKS, "on_cleanup": _HOOKS,
    "schedule": "artrepo has no scheduler; run the pipeline from cron or your scheduler",
    "build": "artrepo builds no images", "prevent_build_reuse": "artrepo builds no images",
    "unlisted": "every run is recorded in its pipeline's history",
}
_OFF_ONLY = {"enable_step_logs": "artrepo does not capture step logs",
             "enable_pipeline_logs": "artrepo does not capture pipeline logs",
             "enable_heartbeat": "artrepo has no step heartbeats"}

STEP = {"name", "enable_cache", "output_materializers", "enable_artifact_metadata", "enable_artifact_visualization",
        "extra", "on_failure", "on_success", "resources", "retries"}
PIPELINE = {"name", "enable_cache", "enable_artifact_metadata", "enable_artifact_visualization", "extra",
            "on_failure", "on_success", "tags", "substitutions", "parallel", "orchestrator"}
CONFIG = {"parameters", "steps", "enable_cache", "enable_artifact_metadata", "enable_artifact_visualization",
          "run_name", "extra", "tags", "substitutions"}
STEP_CONFIG = {"parameters", "enable_cache", "outputs", "enable_artifact_metadata", "enable_artifact_visualization",
               "extra"}


def checked(kind: str, options: dict, allowed: set[str] | None = None) -> dict:
    """The options given (not None) that artrepo implements; a one-line UserError for any other.

    `kind` is `step` or `pipeline` (decorators, configure, with_options) or a
    config file's `config` / `config: step NAME` (then `allowed` is given).
    """
    allowed = allowed if allowed is not None else (STEP if kind == "step" else PIPELINE)
    where = f"@{kind}" if kind in ("step", "pipeline") else kind
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in allowed:
            out[key] = value
        elif key in _OFF_ONLY:
            if value:
                raise UserError(f"{where} option {key}={value!r} is not supported: {_OFF_ONLY[key]}")
        elif UNSUPPORTED.get(key):
            raise UserError(f"{where} option {key!r} is not supported: {UNSUPPORTED[key]}")
        else:
            raise UserError(f"{where} has no option {key!r}")
    return out


def hook(kind: str, name: str, value):
    """A hook as a callable: itself, or ZenML's source string `module.function`."""
    if callable(value):
        return value
    if isinstance(value, str) and "." in value:
        import importlib

        module, _, attr = value.rpartition(".")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"@{kind} {name}={value!r}: cannot import it ({exc})") from None
        if callable(found):
            return found
    raise UserError(f"@{kind} {name}= takes a function (or 'module.function'), not {value!r}")


class Configuration:
    """The options a step or pipeline was configured with, as attributes (`None`: not set).

        p.configure(enable_cache=False); p.configuration.enable_cache  # False
    """

    __slots__ = ("_options",)

    def __init__(self, options: dict):
        self._options = options

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._options.get(name)

    def __repr__(self) -> str:
        return f"Configuration({self._options!r})"


def read_config(path: str) -> dict:
    """A run config YAML file as a dict (ZenML's `config_path`, `artrepo run --config`)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read config {path}: {str(exc).splitlines()[0]}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UserError(f"config {path} must be a YAML mapping with 'parameters' and/or 'steps'")
    return doc


def merge_configs(base: dict, over: dict) -> dict:
    """`over` on top of `base`: keys replaced, but `parameters`, `extra` and each step's settings merged."""
    out = {**base, **over}
    for key in ("parameters", "extra", "substitutions"):
        if isinstance(base.get(key), dict) and isinstance(over.get(key), dict):
            out[key] = {**base[key], **over[key]}
    if isinstance(base.get("steps"), dict) and isinstance(over.get("steps"), dict):
        out["steps"] = {**base["steps"]}
        for name, settings in over["steps"].items():
            out["steps"][name] = merge_configs(base["steps"].get(name) or {}, settings or {})
    return out
