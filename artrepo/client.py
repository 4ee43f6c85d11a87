"""The public Python API, with ZenML's names.

    from artrepo import save_artifact, load_artifact
    save_artifact([1, 2, 3], name="numbers"); load_artifact("numbers")
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artrepo.errors import NotFoundError, UserError
from artrepo.models import ArtifactVersion
from artrepo.records.artifact import ArtifactType
from artrepo.repository import Repository, active
from artrepo.tags import Tag, artifact_key, effective_tags, tag_names
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
    """All versions of one name: `.name`, `.latest`, `.versions` (newest first), `.tags` of the artifact."""

    name: str
    versions: list[ArtifactVersion]
    repo: Repository | None = field(default=None, repr=False, compare=False)

    @property
    def latest(self) -> ArtifactVersion:
        return self.versions[0]

    @property
    def tags(self) -> list[Tag]:
        """The artifact's own tags (ZenML's artifact-level tags), apart from its versions' tags."""
        repo = self.repo or active_repository()
        return effective_tags((), repo.annotations(artifact_key(self.name)))

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
        return Artifact(name, versions, repo)

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
        return [Artifact(n, [ArtifactVersion(repo, i) for i in repo.versions(n)], repo) for n in repo.names()]

    def get_pipeline_run(self, id_or_prefix: str):
        from artrepo.models import get_run

        return get_run(self.active_repository, id_or_prefix)

    def list_pipeline_runs(self, pipeline: str | None = None):
        from artrepo.models import list_runs

        return list_runs(self.active_repository, pipeline)

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
        _annotate_tags(repo, info.id, add_tags, remove_tags)
        return ArtifactVersion(repo, info)

    def update_artifact(self, name_id_or_prefix: str, new_name: str | None = None, add_tags=None,
                        remove_tags=None, has_custom_name: bool | None = None) -> Artifact:
        """Add and remove the tags of an artifact itself (not of its versions)."""
        if new_name is not None:
            raise UserError("artifacts cannot be renamed: the name is part of each version's record; "
                            "save the versions under the new name instead")
        if has_custom_name is not None:
            raise UserError("has_custom_name is a ZenML dashboard setting; artrepo has no such option")
        artifact = self.get_artifact(str(name_id_or_prefix))
        _annotate_tags(self.active_repository, artifact_key(artifact.name), add_tags, remove_tags)
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
                "materializer": _restricted(materializer, data, extract_metadata, include_visualizations)}
    ctx = _step_context()
    repo = active_repository()
    if ctx is not None:  # recorded as an output of the running step (its run holds the provenance)
        return ArtifactVersion(repo, ctx.save_artifact(data, name, version, **settings))
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


def _restricted(materializer, data, extract_metadata: bool, include_visualizations: bool):
    """The materializer to save with, minus its metadata or visualizations if asked.

    The subclass records the same id as the class it restricts (it loads with it).
    """
    from artrepo.materializers import registry
    from artrepo.materializers.base import BaseMaterializer

    base = materializer if materializer is not None else registry.for_type(type(data))
    if (extract_metadata and include_visualizations) or not (isinstance(base, type)
                                                             and issubclass(base, BaseMaterializer)):
        return materializer  # as asked, or not a materializer: save_value says so
    body = {"SKIP_REGISTRATION": True, "materializer_id": classmethod(lambda cls: base.materializer_id())}
    if not extract_metadata:
        body["extract_metadata"] = lambda self, data: {}
    if not include_visualizations:
        body["save_visualizations"] = lambda self, data: {}
    return type(base.__name__, (base,), body)


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

    return ArtifactVersion(repo, save_value(repo, source, name, version, tags=tag_names(tags),
                                            artifact_type=artifact_type, metadata=metadata,
                                            materializer=PathMaterializer, origin="registered",
                                            provenance=_provenance(repo)))


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



def log_metadata(metadata: dict, step_id=None, step_name: str | None = None, run_id_name_or_prefix=None,
                 artifact_version_id=None, artifact_name: str | None = None, artifact_version: str | None = None,
                 infer_artifact: bool = False, model_version_id=None, model_name: str | None = None,
                 model_version=None, infer_model: bool = False) -> None:
    """ZenML's metadata call (>= 0.70), on artifact versions.

        log_metadata({"accuracy": 0.93}, artifact_name="my_model", artifact_version="3")
        log_metadata({"accuracy": 0.93}, infer_artifact=True)  # inside a step: its output

    Step runs, pipeline runs and models hold no metadata in artrepo: those
    forms raise a one-line error instead of dropping the metadata.
    """
    metadata = validate_metadata(metadata)
    if model_version_id is not None or model_name is not None or model_version is not None or infer_model:
        raise UserError("log_metadata for models is not supported: artrepo has no model registry; "
                        "log it on the model's artifact version (artifact_name= and artifact_version=)")
    if step_id is not None or step_name is not None or run_id_name_or_prefix is not None:
        raise UserError("log_metadata on a step run or pipeline run is not supported yet; log it on an "
                        "artifact version (artifact_name= and artifact_version=, artifact_version_id=, "
                        "or infer_artifact=True inside a step)")
    if infer_artifact:
        _running_step("log_metadata(infer_artifact=True)").add_output_metadata(metadata=metadata,
                                                                               output_name=artifact_name)
        return
    repo = active_repository()
    repo.annotate(_version_target(repo, "log_metadata", artifact_version_id, artifact_name, artifact_version).id,
                  metadata=metadata)


def add_tags(tags, pipeline=None, run=None, run_template=None, snapshot=None, deployment=None,
             artifact: str | None = None, artifact_version_id=None, artifact_name: str | None = None,
             artifact_version: str | None = None, infer_artifact: bool | None = None) -> None:
    """Tag an artifact version, an artifact, or (inside a step) an output, as ZenML's `add_tags`.

        add_tags(["approved"], artifact_name="iris_dataset", artifact_version="raw_2023")
        add_tags("golden", artifact="iris_dataset")  # the artifact itself
    """
    _retag("add_tags", tags, (), _other_targets(pipeline, run, run_template, snapshot, deployment),
           artifact, artifact_version_id, artifact_name, artifact_version, infer_artifact)


def remove_tags(tags, pipeline=None, run=None, run_template=None, snapshot=None, deployment=None,
                artifact: str | None = None, artifact_version_id=None, artifact_name: str | None = None,
                artifact_version: str | None = None, infer_artifact: bool | None = None) -> None:
    """Remove tags (a new annotation that removes; the version is unchanged), as ZenML's `remove_tags`.

        remove_tags("untrained", artifact_name="my_model", artifact_version="1")
    """
    _retag("remove_tags", (), tags, _other_targets(pipeline, run, run_template, snapshot, deployment),
           artifact, artifact_version_id, artifact_name, artifact_version, infer_artifact)


def _other_targets(pipeline, run, run_template, snapshot, deployment) -> list[str]:
    given = {"pipeline": pipeline, "run": run, "run_template": run_template, "snapshot": snapshot,
             "deployment": deployment}
    return [k for k, v in given.items() if v is not None]


def _retag(call: str, added, removed, others: list[str], artifact, artifact_version_id, artifact_name,
           artifact_version, infer_artifact) -> None:
    if others:
        raise UserError(f"{call}({others[0]}=) is not supported: artrepo tags artifacts and artifact versions")
    if infer_artifact:
        ctx = _running_step(f"{call}(infer_artifact=True)")
        if removed:
            raise UserError("remove_tags inside a step is not supported yet; leave the tag out, or remove it "
                            "after the run with remove_tags(artifact_name=, artifact_version=)")
        ctx.add_output_tags(tags=tag_names(added), output_name=artifact_name)
        return
    repo = active_repository()
    if artifact is not None:
        if artifact_version_id is not None or artifact_name is not None or artifact_version is not None:
            raise UserError(f"{call}: give artifact= (the artifact) or a version, not both")
        key = artifact_key(Client().get_artifact(str(artifact)).name)
    else:
        key = _version_target(repo, call, artifact_version_id, artifact_name, artifact_version).id
    _annotate_tags(repo, key, added, removed)


def _annotate_tags(repo: Repository, key: str, added, removed) -> None:
    added, removed = validate_tags(tag_names(added)), validate_tags(tag_names(removed))
    if added or removed:
        repo.annotate(key, tags=added, removed_tags=removed)


def _version_target(repo: Repository, call: str, artifact_version_id, artifact_name, artifact_version):
    """The version named as ZenML names one: an id (or prefix), or a name and a version."""
    if artifact_version_id is not None:
        return repo.resolve(str(artifact_version_id))
    if artifact_name is not None and artifact_version is not None:
        return repo.resolve(artifact_name, artifact_version)
    if artifact_name is not None:
        raise UserError(f"{call}(artifact_name=...) needs artifact_version= too (or infer_artifact=True "
                        "inside a step), as in ZenML")
    where = ("without a target would attach to the step run or pipeline run, which artrepo does not record yet"
             if _step_context() else "outside a step needs a target")
    raise UserError(f"{call}() {where}: pass artifact_name= and artifact_version=, artifact_version_id=, "
                    "or infer_artifact=True inside a step")


def _running_step(call: str):
    ctx = _step_context()
    if ctx is None:
        raise UserError(f"{call} works only inside a running step; outside one, pass artifact_name= and "
                        "artifact_version=, or artifact_version_id=")
    return ctx
