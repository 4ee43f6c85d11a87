"""The public Python API, with ZenML's names.

    from artrepo import save_artifact, load_artifact
    save_artifact([1, 2, 3], name="numbers"); load_artifact("numbers")
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artrepo.errors import NotFoundError, UserError
from artrepo.models import ArtifactVersion
from artrepo.records.artifact import ArtifactType
from artrepo.repository import Repository, active
from artrepo.values import artifact_type_of, load_value, save_value, validate_metadata, validate_tags


def active_repository(root: str | os.PathLike | None = None) -> Repository:
    """The repository containing `root` (default: the working directory), opened once per process.

    A repository that pulled from remotes fetches missing chunks from them on demand.
    """
    from artrepo.remotes.lazy import install_lazy_fetch

    repo = active(root)
    install_lazy_fetch(repo)
    return repo


def _step_context():
    from artrepo.runtime import context

    return context.current_step()


def _composing():
    from artrepo.runtime import context

    return context.composing()


@dataclass(frozen=True)
class Artifact:
    """All versions of one name: `.name`, `.latest`, `.versions` (newest first)."""

    name: str
    versions: list[ArtifactVersion]

    @property
    def latest(self) -> ArtifactVersion:
        return self.versions[0]

    def load(self, allow_pickle: bool = False) -> Any:
        return self.latest.load(allow_pickle=allow_pickle)


class Client:
    """Read and query the repository of the working directory.

        client = Client()
        client.get_artifact_version("iris_dataset", version="raw_2023").load()
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self._root = root

    @property
    def active_repository(self) -> Repository:
        return active_repository(self._root)

    def get_artifact_version(self, name_id_or_prefix: str, version: str | int | None = None):
        """A version by reference (latest if no version); a late handle inside a pipeline body."""
        composing = _composing()
        if composing is not None:
            return composing.late_artifact(name_id_or_prefix, version)
        repo = self.active_repository
        return ArtifactVersion(repo, repo.resolve(str(name_id_or_prefix), version))

    def get_artifact(self, name: str) -> Artifact:
        repo = self.active_repository
        versions = [ArtifactVersion(repo, i) for i in repo.versions(name)]
        if not versions:
            repo.latest(name)  # raises the NotFoundError with a suggestion
        return Artifact(name, versions)

    def list_artifact_versions(self, name: str | None = None, tag: str | None = None,
                               artifact_type: ArtifactType | str | None = None) -> list[ArtifactVersion]:
        """Versions (newest first), filtered by name, tag and type."""
        repo = self.active_repository
        wanted = artifact_type_of(artifact_type)
        out = []
        for n in [name] if name else repo.names():
            for info in repo.versions(n):
                av = ArtifactVersion(repo, info)
                if wanted is not None and av.type is not wanted:
                    continue
                if tag is not None and tag not in av.tags:
                    continue
                out.append(av)
        out.sort(key=lambda a: a.record.created_ns, reverse=True)
        return out

    def list_artifacts(self) -> list[Artifact]:
        repo = self.active_repository
        return [Artifact(n, [ArtifactVersion(repo, i) for i in repo.versions(n)]) for n in repo.names()]

    def get_pipeline_run(self, id_or_prefix: str):
        from artrepo.models import get_run

        return get_run(self.active_repository, id_or_prefix)

    def list_pipeline_runs(self, pipeline: str | None = None):
        from artrepo.models import list_runs

        return list_runs(self.active_repository, pipeline)


def save_artifact(data: Any, name: str, version: str | int | None = None, tags=None,
                  artifact_type: ArtifactType | None = None, metadata: dict | None = None,
                  materializer=None) -> ArtifactVersion:
    """Save `data` as a new version of the artifact `name`.

        save_artifact(model, name="my_model", version="1", tags=["untrained"])
    """
    settings = {"tags": tags, "artifact_type": artifact_type, "metadata": metadata, "materializer": materializer}
    ctx = _step_context()
    repo = active_repository()
    if ctx is not None:  # recorded as an output of the running step
        return ArtifactVersion(repo, ctx.save_artifact(data, name, version, **settings))
    return ArtifactVersion(repo, save_value(repo, data, name, version, **settings))


def load_artifact(name_or_id: str, version: str | int | None = None, allow_pickle: bool = False) -> Any:
    """Load the value of a version (latest unless `version` or `name:version` is given).

        df = load_artifact("iris_dataset", version="raw_2023")
    """
    repo = active_repository()
    return load_value(repo, repo.resolve(str(name_or_id), version), allow_pickle=allow_pickle)


def register_artifact(path: str | os.PathLike, name: str, version: str | int | None = None,
                      tags=None, metadata: dict | None = None) -> ArtifactVersion:
    """Ingest an existing file or folder; it loads as a `Path` to a read-only copy.

        register_artifact("checkpoints/", name="all_my_model_checkpoints")
    """
    source = Path(path)
    if not source.exists() and not source.is_symlink():
        raise NotFoundError(f"no such file or folder: {source}")
    repo = active_repository()
    inside = source.resolve()
    if inside == repo.git_dir or repo.git_dir in inside.parents:
        raise UserError(f"cannot register {source}: it is inside the repository's own .artrepo/")
    from artrepo.materializers.path import PathMaterializer

    return ArtifactVersion(repo, save_value(repo, source, name, version, tags=tags, metadata=metadata,
                                            materializer=PathMaterializer, origin="registered"))


def log_artifact_metadata(metadata: dict, artifact_name: str | None = None,
                          artifact_version: str | int | None = None, version: str | int | None = None) -> None:
    """Attach metadata: inside a step to its output, outside to a saved version (latest by default)."""
    artifact_version = artifact_version if artifact_version is not None else version
    metadata = validate_metadata(metadata)
    ctx = _step_context()
    if ctx is not None and (artifact_version is None) and ctx.has_output(artifact_name):
        ctx.add_output_metadata(metadata=metadata, output_name=artifact_name)
        return
    if artifact_name is None:
        raise UserError("log_artifact_metadata outside a step needs artifact_name")
    repo = active_repository()
    info = repo.resolve(artifact_name, artifact_version)
    repo.annotate(info.id, metadata=metadata)


def add_tags(ref: str, tags) -> ArtifactVersion:
    """Attach tags to an existing version (a new record; the version is unchanged)."""
    tags = validate_tags(tags)
    repo = active_repository()
    info = repo.resolve(ref)
    repo.annotate(info.id, tags=tags)
    return ArtifactVersion(repo, info)
