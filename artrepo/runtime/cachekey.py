"""Cache keys: pure functions over a step's code hash, parameters, inputs and outputs.

The key is BLAKE3 over the canonical msgpack of its parts (docs/format.md,
"Runs, steps and cache keys"); the parts are kept in the step record so a
later run can say which one changed.
"""
from __future__ import annotations

from artrepo.records import codec
from artrepo.storage.hashing import digest

CACHE_FORMAT = "artrepo-cache/2"  # 2: default output names left out (same step, other pipeline: a hit)


def canonical_parameter(name: str, value):
    """A JSON-like copy of a parameter value (tuples become lists), or a clear error."""
    return codec.json_like(value, f"parameter {name!r}", "; pass data as an artifact instead")


def _hash(value) -> str:
    return digest(codec.encode({"v": value})).hex()


def key_parts(code_hash: str, parameters: dict, input_hashes: dict[str, str],
              outputs: list[tuple[str, ...]]) -> dict[str, str]:
    """{component: hex}. `outputs` are (key, artifact name or "", custom version or "", materializer id).

    Names and versions are the user's (`Annotated[T, "name"]`, `ArtifactConfig`,
    `--config`), never a default name: those hold the pipeline's name, and the
    same step in another pipeline is the same computation (a hit, as in ZenML).
    """
    parts = {"format": CACHE_FORMAT, "code": code_hash}
    for name in sorted(parameters):
        parts[f"parameter:{name}"] = _hash(parameters[name])
    for name in sorted(input_hashes):
        parts[f"input:{name}"] = input_hashes[name]
    parts["outputs"] = _hash(sorted([list(o) for o in outputs]))
    return parts


def cache_key(parts: dict[str, str]) -> str:
    return digest(codec.encode(parts)).hex()


def _describe(component: str, change: str) -> str:
    kind, _, name = component.partition(":")
    if kind == "parameter":
        return f"parameter {name!r} {change}"
    if kind == "input":
        return f"input {name!r} {'content changed' if change == 'changed' else change}"
    return {"format": "artrepo cache format changed", "code": "code changed (step or a function it calls)",
            "outputs": "output names, versions or materializers changed"}.get(kind, f"{component} {change}")


def first_difference(old: dict[str, str], new: dict[str, str]) -> str | None:
    """The first component (format, code, parameters, inputs, outputs) that differs, described."""
    order = ["format", "code"]
    for prefix in ("parameter:", "input:"):
        order += sorted({k for k in (*old, *new) if k.startswith(prefix)})
    order.append("outputs")
    for component in order:
        if component not in old:
            return _describe(component, "added")
        if component not in new:
            return _describe(component, "removed")
        if old[component] != new[component]:
            return _describe(component, "changed")
    return None
