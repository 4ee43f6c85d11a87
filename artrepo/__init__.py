"""artrepo: a Git-style, content-addressed artifact repository for ML pipelines.

    from artrepo import save_artifact, load_artifact
    save_artifact(np.arange(10), name="x"); load_artifact("x")

Public names are imported lazily (PEP 562), so `import artrepo` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Client": "artrepo.client",
    "save_artifact": "artrepo.client",
    "load_artifact": "artrepo.client",
    "register_artifact": "artrepo.client",
    "log_artifact_metadata": "artrepo.annotating",
    "log_metadata": "artrepo.annotating",
    "add_tags": "artrepo.annotating",
    "remove_tags": "artrepo.annotating",
    "Tag": "artrepo.tags",
    "ArtifactVersion": "artrepo.models",
    "ArtifactType": "artrepo.records.artifact",
    "VisualizationType": "artrepo.records.artifact",
    "step": "artrepo.runtime.decorators",
    "pipeline": "artrepo.runtime.decorators",
    "ArtifactConfig": "artrepo.runtime.signature",
    "ExternalArtifact": "artrepo.runtime.graph",
    "get_step_context": "artrepo.runtime.context",
    "PipelineRun": "artrepo.models",
    "StepRun": "artrepo.models",
}

__all__ = sorted(_LAZY) + ["__version__"]


def lazy_getattr(namespace: dict, table: dict[str, str]):
    """A package's `__getattr__` (PEP 562): each name of `table` ({name: module}) imported on first use."""
    def __getattr__(name: str):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        import importlib

        namespace[name] = value = getattr(importlib.import_module(module), name)
        return value
    return __getattr__


__getattr__ = lazy_getattr(globals(), _LAZY)


def __dir__():
    return __all__
