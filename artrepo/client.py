"""The public Python API, with ZenML's names.

    from artrepo import save_artifact, load_artifact
    save_artifact([1, 2, 3], name="numbers"); load_artifact("numbers")
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from artrepo.annotating import (add_tags, annotate_tags, log_artifact_metadata, log_metadata,  # noqa: F401
                                remove_tags)  # ZenML's calls, importable from here too
from artrepo.errors import NotFoundError, UserError
from artrepo.listing import Page
from artrepo.models import Artifact, ArtifactVersion
from artrepo.records.artifact import ArtifactType
from artrepo.repository import Repository
from artrepo.runtime.context import composing, current_step  # whether a step runs, or a pipeline body composes
from artrepo.tags import tag_names
from artrepo.values import load_value, save_value
from artrepo.workdir import active_repository


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

    @property
    def active_stack(self):
        """The stack runs use (`artrepo stack set`): `.name`, `.artifact_store` (`.path`), `.orchestrator`."""
        from artrepo.stacks import get_stack

        return get_stack(self.active_repository)

    def get_artifact_version(self, name_id_or_prefix: str, version: str | int | None = None):
        """A version by reference (latest if no version); a late handle inside a pipeline body."""
        composition = composing()
        if composition is not None:
            return composition.late_artifact(name_id_or_prefix, version)
        repo = self.active_repository
        return ArtifactVersion(repo, repo.resolve(str(name_id_or_prefix), version))

    def get_artifact(self, name_id_or_prefix: str) -> Artifact:
        """An artifact by name: `.versions` (dict version -> ArtifactVersion, oldest first), `.latest`, `.tags`."""
        repo = self.active_repository
        name = str(name_id_or_prefix)
        infos = repo.versions(name)
        if not infos:
            repo.latest(name)  # raises the NotFoundError with a suggestion
        return Artifact(repo, name, infos)

    def list_artifact_versions(self, name: str | None = None, tag=None, artifact_type=None, *,
                               sort_by: str = "created", page: int = 1, size: int | None = None,
                               tags=None, type=None, artifact=None, version=None, id=None, materializer=None,
                               data_type=None, pipeline_run=None, hydrate: bool = False, **unsupported) -> Page:
        """Versions matching every filter given, oldest first as in ZenML unless `sort_by` says otherwise; a `Page`.

            Client().list_artifact_versions(name="iris_dataset", tags=["approved"], sort_by="desc:created").items

        ZenML's keywords (`type`, `artifact`, `tags`, `sort_by`, `size`, `page`);
        `size=None` (the default) returns one page of everything.
        """
        from artrepo.queries import list_versions, refuse

        refuse("list_artifact_versions", unsupported)
        return list_versions(self.active_repository, name=name, version=version, artifact=artifact,
                             type=type if type is not None else artifact_type, tag=tag, tags=tags, id=id,
                             materializer=materializer, data_type=data_type, pipeline_run=pipeline_run,
                             sort_by=sort_by, page=page, size=size)

    def list_artifacts(self, name: str | None = None, tag=None, *, tags=None, sort_by: str = "name", page: int = 1,
                       size: int | None = None, hydrate: bool = False, **unsupported) -> Page:
        """Artifacts (`.name`, `.latest`, `.versions`, `.tags`), by name; a `Page`."""
        from artrepo.queries import list_artifacts, refuse

        refuse("list_artifacts", unsupported)
        return list_artifacts(self.active_repository, name=name, tag=tag, tags=tags, sort_by=sort_by, page=page,
                              size=size)

    def get_pipeline(self, name_id_or_prefix: str):
        """A pipeline with runs, by name: `.name`, `.runs` (newest first), `.last_run`, `.last_successful_run`."""
        from artrepo.queries import get_pipeline

        return get_pipeline(self.active_repository, str(getattr(name_id_or_prefix, "name", name_id_or_prefix)))

    def list_pipelines(self, name: str | None = None, *, sort_by: str = "name", page: int = 1,
                       size: int | None = None, hydrate: bool = False, **unsupported) -> Page:
        from artrepo.queries import list_pipelines, refuse

        refuse("list_pipelines", unsupported)
        return list_pipelines(self.active_repository, name=name, sort_by=sort_by, page=page, size=size)

    def get_pipeline_run(self, name_id_or_prefix: str, allow_name_prefix_match: bool = True,
                         hydrate: bool = True):
        """A run by id (or unique prefix), run commit id, or name."""
        from artrepo.queries import get_run

        return get_run(self.active_repository, name_id_or_prefix)

    def list_pipeline_runs(self, pipeline: str | None = None, *, pipeline_name: str | None = None,
                           name: str | None = None, status: str | None = None, tag=None, tags=None,
                           sort_by: str = "desc:created", page: int = 1, size: int | None = None,
                           hydrate: bool = False, **unsupported) -> Page:
        """Recorded runs, newest first, of one pipeline or all; a `Page`."""
        from artrepo.queries import list_pipeline_runs, refuse

        refuse("list_pipeline_runs", unsupported)
        wanted = pipeline if pipeline is not None else pipeline_name
        return list_pipeline_runs(self.active_repository, pipeline=getattr(wanted, "name", wanted), name=name,
                                  status=status, tag=tag, tags=tags, sort_by=sort_by, page=page, size=size)

    def compare_artifact_versions(self, name: str, metadata=None, limit: int | None = None):
        """Chosen metadata across the versions of an artifact, newest first (an `artrepo.compare.Comparison`).

            table = Client().compare_artifact_versions("model", metadata=["accuracy", "loss"])
            print(table); table.rows[0]["accuracy"]; table.to_pandas()
        """
        from artrepo.compare import compare_versions

        return compare_versions(self.active_repository, name, metadata, limit)

    def compare_pipeline_runs(self, pipeline: str, metadata=None, limit: int | None = None):
        """Parameters and output metadata across the runs of a pipeline, newest first (a `Comparison`)."""
        from artrepo.compare import compare_runs

        return compare_runs(self.active_repository, pipeline, metadata, limit)

    def diff(self, a: str, b: str) -> dict:
        """What changed from `a` to `b`, two version references ("model:5") or two run ids (`diff --json`)."""
        from artrepo.diff import diff_items

        return diff_items(self.active_repository, a, b)

    def update_artifact_version(self, name_id_or_prefix: str, version: str | int | None = None,
                                add_tags=None, remove_tags=None) -> ArtifactVersion:
        """Add and remove tags of a version (one new annotation: added first, then removed).

            Client().update_artifact_version("iris_dataset", "raw_2023", add_tags=["approved"])
        """
        repo = self.active_repository
        info = repo.resolve(str(name_id_or_prefix), version)
        annotate_tags(repo, info.id, add_tags, remove_tags)
        return ArtifactVersion(repo, info)

    def delete_artifact_version(self, name_id_or_prefix: str, version: str | int | None = None,
                                delete_metadata: bool = True, delete_from_artifact_store: bool = False) -> None:
        """Delete a version: a deletion is recorded (push and pull carry it), the version is no longer listed
        or resolved, and its data goes at the first `gc` at least the grace period later.

            Client().delete_artifact_version("iris_dataset", version="raw_2023")

        Runs that used it keep naming it (its record stays). `delete_from_artifact_store`
        is accepted either way (the data always goes at gc); `delete_metadata=False` is refused.
        """
        if not delete_metadata:
            raise UserError("delete_artifact_version(delete_metadata=False) is not supported: a deleted version "
                            "is no longer listed, and its data goes at the next gc past the grace period")
        repo = self.active_repository
        repo.delete_version(repo.resolve(str(name_id_or_prefix), version))

    def update_artifact(self, name_id_or_prefix: str, new_name: str | None = None, add_tags=None,
                        remove_tags=None, has_custom_name: bool | None = None) -> Artifact:
        """Add and remove the tags of an artifact itself (not of its versions)."""
        if new_name is not None:
            raise UserError("artifacts cannot be renamed: the name is part of each version's record; "
                            "save the versions under the new name instead")
        if has_custom_name is not None:
            raise UserError("has_custom_name is a ZenML dashboard setting; artrepo has no such option")
        artifact = self.get_artifact(str(name_id_or_prefix))
        annotate_tags(self.active_repository, artifact.id, add_tags, remove_tags)  # its own tags' key
        return artifact


def save_artifact(data: Any, name: str, version: str | int | None = None, tags=None,
                  artifact_type: ArtifactType | None = None, metadata: dict | None = None,
                  materializer=None, *, user_metadata: dict | None = None, extract_metadata: bool = True,
                  include_visualizations: bool = True, uri: str | None = None) -> ArtifactVersion:
    """Save `data` as a new version of the artifact `name`.

        save_artifact(model, name="my_model", version="1", tags=["untrained"])

    `user_metadata` is ZenML's name for `metadata`. `extract_metadata=False`
    skips the materializer's metadata (the user's is kept, and `storage_size`
    is always recorded); `include_visualizations=False` stores none.
    """
    if uri is not None:
        raise UserError("save_artifact(uri=) is not supported: artrepo decides where data is stored "
                        "(by content); pass no uri")
    metadata = _merged(metadata, user_metadata, "metadata", "user_metadata")
    settings = {"tags": tag_names(tags), "artifact_type": artifact_type, "metadata": metadata,
                "materializer": materializer, "extract_metadata": extract_metadata,
                "include_visualizations": include_visualizations}
    ctx = current_step()
    if ctx is not None:  # recorded as an output of the running step (its run holds the provenance)
        saved = ctx.save_artifact(data, name, version, **settings)
        # on a Dask worker it is staged, published by the driver when the step ends (no repository here)
        return saved if hasattr(saved, "staged") else ArtifactVersion(active_repository(), saved)
    repo = active_repository()
    return ArtifactVersion(repo, save_value(repo, data, name, version, provenance=_provenance(repo), **settings))


def _provenance(repo):
    """What `save_value` calls, after validating, to capture a version's provenance (the caller, git...)."""
    def capture():
        from artrepo.runtime.provenance import capture_save

        return capture_save(repo.git_dir, repo.root)

    return capture


def _merged(a: dict | None, b: dict | None, a_name: str, b_name: str) -> dict | None:
    if a is not None and b is not None:
        raise UserError(f"pass {a_name}= or {b_name}=, not both (they are the same thing)")
    return a if a is not None else b


def load_artifact(name_or_id: str, version: str | int | None = None, allow_pickle: bool = False) -> Any:
    """Load the value of a version (latest unless `version` or `name:version` is given).

        df = load_artifact("iris_dataset", version="raw_2023")
    """
    repo = active_repository()
    return load_value(repo, repo.resolve(str(name_or_id), version), allow_pickle=allow_pickle)


def register_artifact(path: str | os.PathLike, name: str, version: str | int | None = None,
                      tags=None, metadata: dict | None = None, *, artifact_type: ArtifactType | None = None,
                      artifact_metadata: dict | None = None) -> ArtifactVersion:
    """Ingest an existing file or folder; it loads as a `Path` to a read-only copy.

        register_artifact("checkpoints/", name="all_my_model_checkpoints")

    `artifact_metadata` is ZenML's name for `metadata`.
    """
    metadata = _merged(metadata, artifact_metadata, "metadata", "artifact_metadata")
    from artrepo.payload import short_path

    source = Path(path)
    try:
        os.lstat(source)
    except FileNotFoundError:
        raise NotFoundError(f"no such file or folder: {short_path(source)}") from None
    except OSError as exc:  # a path longer than PATH_MAX, a folder on the way that cannot be searched
        raise UserError(f"cannot register {short_path(source)}: {exc.strerror or exc}") from None
    repo = active_repository()
    inside = source.resolve()
    if inside == repo.git_dir or repo.git_dir in inside.parents:
        raise UserError(f"cannot register {source}: it is inside the repository's own .artrepo/")
    from artrepo.materializers.path import PathMaterializer

    return ArtifactVersion(repo, save_value(repo, source, name, version, tags=tags,
                                            artifact_type=artifact_type, metadata=metadata,
                                            materializer=PathMaterializer, origin="registered",
                                            provenance=_provenance(repo)))
