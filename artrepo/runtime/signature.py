"""What a step function declares: its inputs, and its outputs with their names and settings.

    @step
    def split(df: pd.DataFrame) -> Tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
        ...
"""
from __future__ import annotations

import sys
import types

from artrepo.errors import UserError
from artrepo.plain import Frozen
from artrepo.runtime import introspect


class ArtifactConfig(Frozen):
    """Per-output settings, used as `Annotated[T, ArtifactConfig(name="model", version="1")]`."""

    __slots__ = ("name", "version", "tags", "run_metadata", "artifact_type", "materializer")

    def __init__(self, name: str | None = None, version: str | int | None = None, tags: list[str] | None = None,
                 run_metadata: dict | None = None, artifact_type: object = None, materializer: object = None):
        self._init(name=name, version=version, tags=tags, run_metadata=run_metadata, artifact_type=artifact_type,
                   materializer=materializer)


class OutputSpec(Frozen):
    """One declared output: `key` names it within the step, `name` is its artifact name (None: default)."""

    __slots__ = ("key", "name", "version", "tags", "run_metadata", "artifact_type", "materializer", "data_type")

    def __init__(self, key: str, name: str | None = None, version: str | None = None, tags: tuple[str, ...] = (),
                 run_metadata: dict | None = None, artifact_type: object = None, materializer: object = None,
                 data_type: object = None):
        self._init(key=key, name=name, version=version, tags=tags, run_metadata={} if run_metadata is None
                   else run_metadata, artifact_type=artifact_type, materializer=materializer, data_type=data_type)

    def artifact_name(self, pipeline: str, step: str) -> str:
        return self.name or f"{pipeline}::{step}::{self.key}"

    def with_overrides(self, overrides: dict) -> "OutputSpec":
        """Apply a `--config` `outputs: {KEY: {name, version, tags}}` entry."""
        unknown = set(overrides) - {"name", "version", "tags", "run_metadata", "artifact_type"}
        if unknown:
            raise UserError(f"output {self.key!r}: unknown config keys {sorted(unknown)}")
        changes = dict(overrides)
        if changes.get("version") is not None:
            changes["version"] = str(changes["version"])
        if "tags" in changes:
            changes["tags"] = tuple(changes["tags"] or ())
        return self.replace(**changes)


# `typing` costs milliseconds to import: a step whose annotations use
# `Annotated` or `Tuple` imported it already, and plain annotations (`int`,
# `tuple[int, str]`) need no resolving.
def _typing():
    return sys.modules.get("typing")


def _plain(tp) -> bool:
    """A class, None, or a builtin generic of those (`tuple[int, str]`): nothing to resolve."""
    if isinstance(tp, types.GenericAlias):
        return all(a is Ellipsis or _plain(a) for a in tp.__args__)
    return tp is None or isinstance(tp, type)


def _hints(func) -> dict:
    annotations = dict(getattr(func, "__annotations__", None) or {})
    if _typing() is None and all(_plain(a) for a in annotations.values()):
        return annotations
    import typing

    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable forward references: use what is there
        return annotations


def _origin(tp):
    typing = _typing()
    return typing.get_origin(tp) if typing else getattr(tp, "__origin__", None)


def _args(tp) -> tuple:
    typing = _typing()
    return typing.get_args(tp) if typing else getattr(tp, "__args__", ())


def _is_annotated(tp) -> bool:
    typing = _typing()
    return typing is not None and typing.get_origin(tp) is typing.Annotated


def _spec_from(tp, default_key: str) -> OutputSpec:
    if not _is_annotated(tp):
        return OutputSpec(key=default_key, data_type=tp)
    base, *extras = _typing().get_args(tp)
    for extra in extras:
        if isinstance(extra, str):
            return OutputSpec(key=extra, name=extra, data_type=base)
        if isinstance(extra, ArtifactConfig):
            version = None if extra.version is None else str(extra.version)
            tags = (extra.tags,) if isinstance(extra.tags, str) else tuple(extra.tags or ())
            return OutputSpec(key=extra.name or default_key, name=extra.name, version=version, tags=tags,
                              run_metadata=dict(extra.run_metadata or {}), artifact_type=extra.artifact_type,
                              materializer=extra.materializer, data_type=base)
    return OutputSpec(key=default_key, data_type=base)


def _is_multi_output(tp) -> bool:
    args = _args(tp)
    return _origin(tp) is tuple and bool(args) and not (len(args) == 2 and args[1] is Ellipsis)


def output_specs(func) -> tuple[OutputSpec, ...]:
    """The outputs a step declares; no annotation means one output named `output`."""
    ret = _hints(func).get("return", introspect.EMPTY)
    if ret is None or ret is type(None):
        return ()
    if ret is introspect.EMPTY:
        return (OutputSpec(key="output"),)
    if _is_multi_output(ret):
        specs = tuple(_spec_from(tp, f"output_{i}") for i, tp in enumerate(_args(ret)))
    else:
        specs = (_spec_from(ret, "output"),)
    keys = [s.key for s in specs]
    twice = [k for i, k in enumerate(keys) if k in keys[:i]]
    if twice:
        raise UserError(f"step {func.__name__!r} declares the output name {twice[0]!r} twice")
    return specs


def expected_classes(tp) -> tuple[type, ...] | None:
    """The classes a value annotated `tp` must be an instance of; None when anything goes.

    As ZenML checks outputs: `Any`, no annotation, type variables and
    unresolved names accept anything; a union accepts any of its members; a
    generic (`list[int]`, `Dict[str, int]`) is checked by its origin only.
    """
    typing = _typing()
    if tp is None or tp is introspect.EMPTY or (typing is not None and tp is typing.Any):
        return None
    if isinstance(tp, types.GenericAlias):
        return (tp.__origin__,)
    if isinstance(tp, type):
        return (tp,)
    origin = _origin(tp)
    if origin is types.UnionType or (typing is not None and origin is typing.Union):
        members = [expected_classes(a) for a in _args(tp)]
        return None if any(m is None for m in members) else tuple(c for m in members for c in m)
    return (origin,) if isinstance(origin, type) else None


def check_output(step: str, key: str, value, tp) -> None:
    """A StepInterfaceError (ZenML's message) when `value` is not what output `key` declares."""
    classes = expected_classes(tp)
    if classes is not None and not isinstance(value, classes):
        from artrepo.errors import StepInterfaceError

        expected = classes[0] if len(classes) == 1 else classes
        raise StepInterfaceError(f"Wrong type for output '{key}' of step '{step}' (expected type: {expected}, "
                                 f"actual type: {type(value)}).")


def input_names(func) -> list[str]:
    return [name for name, kind, _ in introspect.parameters(func)
            if kind in ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY", "POSITIONAL_ONLY")]
