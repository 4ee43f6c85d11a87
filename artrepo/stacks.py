"""The stack a run uses: where artifacts are stored and who runs the steps.

Only the default stack exists so far: the local repository as the artifact
store, steps run by this process.

    Client().active_stack.artifact_store.path   # the folder holding .artrepo/
"""
from __future__ import annotations

from pathlib import Path


class LocalOrchestrator:
    """Steps run in the process that runs the pipeline (threads with `parallel=`)."""

    name = "default"
    flavor = "local"

    def __repr__(self) -> str:
        return "LocalOrchestrator()"


class Stack:
    """`.name`, `.artifact_store` (`.path`, and ZenML's file API bounded by it), `.orchestrator`."""

    def __init__(self, name: str, artifact_store, orchestrator):
        self.name, self.artifact_store, self.orchestrator = name, artifact_store, orchestrator

    def __repr__(self) -> str:
        return f"Stack({self.name!r}, artifact_store={self.artifact_store!r}, orchestrator={self.orchestrator!r})"


def default_stack(root: Path) -> Stack:
    """The local repository at `root`: its artifact store's path is `root`, the folder holding `.artrepo/`.

    Files written there stay the user's files until `register_artifact` stores
    them (artrepo keeps its own data by content under `.artrepo/`).
    """
    from artrepo.io.artifact_store import LocalArtifactStore

    return Stack("default", LocalArtifactStore(root), LocalOrchestrator())
