"""The public Python API, with ZenML's names.

    from artrepo import save_artifact, load_artifact
    save_artifact([1, 2, 3], name="numbers"); load_artifact("numbers")
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from artrepo.errors import NotFoundError, UserError
from artrepo.listing import Page
from artrepo.models import Artifact, ArtifactVersion
from artrepo.records.artifact import ArtifactType
from artrepo.repository import Repository, active
from artrepo.tags import artifact_key, tag_names
from artrepo.values import load_value, save_value, validate_metadata, validate_tags


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
        """The stack runs use (`.artifact_store.path`, `.orchestrator`): the default, local one."""
        from artrepo.stacks import default_stack

        return default_stack(self.active_repository.root)

    def get_artifact_version(self, name_id_or_prefix: str, version: str | int | None = None):
        """A version by reference (latest if no version); a late handle inside a pipeline body."""
        composing = _composing()
        if composing is not None:
            return composing.late_artifact(name_id_or_prefix, version)
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
                               sort_by: str = "desc:created", page: int = 1, size: int | None = None,
                               tags=None, type=None, artifact=None, version=None, id=None, materializer=None,
                               data_type=None, pipeline_run=None, hydrate: bool = False, **unsupported) -> Page:
        """Versions matching every filter given, newest first unless `sort_by` says otherwise; a `Page`.

            Client().list_artifact_versions(name="iris_dataset", tags=["approved"], size=10).items

        ZenML's keywords (`type`, `artifact`, `tags`, `sort_by`, `size`, `page`);
        `size=None` (the default) returns one page of everything. ZenML's own
        default order is oldest first: pass `sort_by="asc:created"` for it.
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
        from artrepo.models import get_pipeline

        return get_pipeline(self.active_repository, str(getattr(name_id_or_prefix, "name", name_id_or_prefix)))

    def list_pipelines(self, name: str | None = None, *, sort_by: str = "name", page: int = 1,
                       size: int | None = None, hydrate: bool = False, **unsupported) -> Page:
        from artrepo.queries import list_pipelines, refuse

        refuse("list_pipelines", unsupported)
        return list_pipelines(self.active_repository, name=name, sort_by=sort_by, page=page, size=size)

    def get_pipeline_run(self, name_id_or_prefix: str, allow_name_prefix_match: bool = True,
                         hydrate: bool = True):
        """A run by id (or unique prefix), run commit id, or name."""
        from artrepo.models import get_run

        return get_run(self.active_repository, str(getattr(name_id_or_prefix, "id", name_id_or_prefix)))

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

    def update_artifact_version(self, name_id_or_prefix: str, version: str | int | None = None,
                                add_tags=None, remove_tags=None) -> ArtifactVersion:
        """Add and remove tags of a version (one new annotation: added first, then removed).

            Client().update_artifact_version("iris_dataset", "raw_2023", add_tags=["approved"])
        """
        repo = self.active_repository
        info = repo.resolve(str(name_id_or_prefix), version)
        _annotate_tags(repo, info.id, add_tags, remove_tags)
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
                "materializer": materializer, "extract_metadata": extract_metadata,
                "include_visualizations": include_visualizations}
    ctx = _step_context()
    repo = active_repository()
    if ctx is not None:  # recorded as an output of the running step
        return ArtifactVersion(repo, ctx.save_artifact(data, name, version, **settings))
    return ArtifactVersion(repo, save_value(repo, data, name, version, **settings))


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
    source = Path(path)
    if not source.exists() and not source.is_symlink():
        raise NotFoundError(f"no such file or folder: {source}")
    repo = active_repository()
    inside = source.resolve()
    if inside == repo.git_dir or repo.git_dir in inside.parents:
        raise UserError(f"cannot register {source}: it is inside the repository's own .artrepo/")
    from artrepo.materializers.path import PathMaterializer

    return ArtifactVersion(repo, save_value(repo, source, name, version, tags=tag_names(tags),
                                            artifact_type=artifact_type, metadata=metadata,
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



def log_metadata(metadata: dict, step_id=None, step_name: str | None = None, run_id_name_or_prefix=None,
                 artifact_version_id=None, artifact_name: str | None = None, artifact_version: str | None = None,
                 infer_artifact: bool = False, model_version_id=None, model_name: str | None = None,
                 model_version=None, infer_model: bool = False) -> None:
    """ZenML's metadata call (>= 0.70): on a step run, a pipeline run or an artifact version.

        log_metadata({"accuracy": 0.93})  # inside a step: the step run
        log_metadata({"accuracy": 0.93}, artifact_name="my_model", artifact_version="3")
        log_metadata({"owner": "ml"}, run_id_name_or_prefix="training-2026_01_31-09_30_00_123456")

    ZenML's order: `step_id`; `step_name` with `run_id_name_or_prefix`;
    `run_id_name_or_prefix`; an artifact version (`artifact_name` with
    `artifact_version`, or `artifact_version_id`); `infer_artifact` (an output
    of the running step); nothing, inside a step: the step run. Metadata logged
    on the running step or run is recorded with it; anything else is an
    annotation (docs/format.md §7). Later keys win.
    """
    metadata = validate_metadata(metadata)
    if model_version_id is not None or model_name is not None or model_version is not None or infer_model:
        raise UserError("log_metadata for models is not supported: artrepo has no model registry; "
                        "log it on the model's artifact version (artifact_name= and artifact_version=)")
    ctx = _step_context()
    if step_id is not None:
        _log_on_step_id(ctx, str(step_id), metadata)
    elif step_name is not None and run_id_name_or_prefix is not None:
        if ctx is not None and _is_running(ctx, run_id_name_or_prefix) and step_name == ctx.step_name:
            ctx.step_metadata.update(metadata)
        else:
            repo = active_repository()
            run_id = _run_id(repo, ctx, run_id_name_or_prefix, step_name)
            from artrepo.models import step_run_id

            repo.annotate(step_run_id(run_id, step_name), metadata=metadata)
    elif run_id_name_or_prefix is not None:
        if ctx is not None and _is_running(ctx, run_id_name_or_prefix):
            ctx.run_metadata.update(metadata)
        else:
            repo = active_repository()
            repo.annotate(_run_id(repo, ctx, run_id_name_or_prefix), metadata=metadata)
    elif artifact_version_id is not None or (artifact_name is not None and artifact_version is not None):
        repo = active_repository()
        repo.annotate(_version_target(repo, "log_metadata", artifact_version_id, artifact_name, artifact_version).id,
                      metadata=metadata)
    elif infer_artifact:
        _running_step("log_metadata(infer_artifact=True)").add_output_metadata(metadata=metadata,
                                                                               output_name=artifact_name)
    elif ctx is not None and artifact_name is None and step_name is None:
        ctx.step_metadata.update(metadata)
    elif ctx is None and artifact_name is None and step_name is None:
        raise UserError("log_metadata() outside a step needs a target: artifact_name= and artifact_version=, "
                        "artifact_version_id=, run_id_name_or_prefix= (with step_name= for a step run) or step_id=")
    elif artifact_name is not None and step_name is None:
        raise UserError("log_metadata(artifact_name=...) needs artifact_version= too (or infer_artifact=True "
                        "inside a step), as in ZenML")
    else:
        raise UserError("log_metadata: unsupported combination (as in ZenML): pass artifact_name= with "
                        "artifact_version=, artifact_version_id=, step_name= with run_id_name_or_prefix=, "
                        "run_id_name_or_prefix=, step_id=, or infer_artifact=True inside a step")


def _is_running(ctx, name_id_or_prefix) -> bool:
    """Whether a run reference names the run of the running step (not recorded until it ends)."""
    text = str(getattr(name_id_or_prefix, "id", name_id_or_prefix))
    return text == ctx._task.run_name or (len(text) >= 4 and ctx.run_id.startswith(text.lower()))


def _run_id(repo, ctx, name_id_or_prefix, step_name: str | None = None) -> str:
    """The id of a recorded run (or of the running one), checking it has `step_name` if given."""
    if ctx is not None and _is_running(ctx, name_id_or_prefix):
        return ctx.run_id  # a step of the running run: annotated, the run is recorded when it ends
    from artrepo.models import get_run

    run = get_run(repo, str(getattr(name_id_or_prefix, "id", name_id_or_prefix)))
    if step_name is not None and step_name not in run.record.steps:
        raise UserError(f"run {run.id[:12]} ({run.name}) has no step {step_name!r} "
                        f"(steps: {', '.join(run.record.steps)})")
    return run.id


def _log_on_step_id(ctx, step_id: str, metadata: dict) -> None:
    """`log_metadata(step_id=)`: the running step, or a recorded step run found by its id (or a prefix)."""
    from artrepo.models import list_runs, step_run_id

    text = step_id.lower()
    if ctx is not None and step_run_id(ctx.run_id, ctx.step_name).startswith(text) and len(text) >= 6:
        ctx.step_metadata.update(metadata)
        return
    repo = active_repository()
    found = {step_run_id(r.id, s) for r in list_runs(repo) for s in r.record.steps} if len(text) >= 6 else set()
    found = {i for i in found if i.startswith(text)}
    if len(found) != 1:
        raise UserError(f"log_metadata(step_id={step_id!r}): {'no' if not found else 'more than one'} step run "
                        "has that id (a step run's id is StepRun.id: 40 hex digits, or 6+ of them)")
    repo.annotate(found.pop(), metadata=metadata)


def add_tags(tags, pipeline=None, run=None, run_template=None, snapshot=None, deployment=None,
             artifact: str | None = None, artifact_version_id=None, artifact_name: str | None = None,
             artifact_version: str | None = None, infer_artifact: bool | None = None) -> None:
    """Tag an artifact version, an artifact, a run, or (inside a step) an output or its run, as ZenML's `add_tags`.

        add_tags(["approved"], artifact_name="iris_dataset", artifact_version="raw_2023")
        add_tags("golden", artifact="iris_dataset")  # the artifact itself
        add_tags("nightly")  # inside a step: the run
    """
    _retag("add_tags", tags, (), _other_targets(pipeline, run_template, snapshot, deployment), run,
           artifact, artifact_version_id, artifact_name, artifact_version, infer_artifact)


def remove_tags(tags, pipeline=None, run=None, run_template=None, snapshot=None, deployment=None,
                artifact: str | None = None, artifact_version_id=None, artifact_name: str | None = None,
                artifact_version: str | None = None, infer_artifact: bool | None = None) -> None:
    """Remove tags (a new annotation that removes; the version is unchanged), as ZenML's `remove_tags`.

        remove_tags("untrained", artifact_name="my_model", artifact_version="1")
    """
    _retag("remove_tags", (), tags, _other_targets(pipeline, run_template, snapshot, deployment), run,
           artifact, artifact_version_id, artifact_name, artifact_version, infer_artifact)


def _other_targets(pipeline, run_template, snapshot, deployment) -> list[str]:
    given = {"pipeline": pipeline, "run_template": run_template, "snapshot": snapshot, "deployment": deployment}
    return [k for k, v in given.items() if v is not None]


def _retag(call: str, added, removed, others: list[str], run, artifact, artifact_version_id, artifact_name,
           artifact_version, infer_artifact) -> None:
    if others:
        raise UserError(f"{call}({others[0]}=) is not supported: artrepo tags artifacts, artifact versions "
                        "and runs")
    ctx = _step_context()
    if infer_artifact:
        ctx = _running_step(f"{call}(infer_artifact=True)")
        if removed:
            ctx.remove_output_tags(tags=tag_names(removed), output_name=artifact_name)
        else:
            ctx.add_output_tags(tags=tag_names(added), output_name=artifact_name)
        return
    repo = active_repository()
    version_given = artifact_version_id is not None or artifact_name is not None or artifact_version is not None
    if run is not None or (ctx is not None and artifact is None and not version_given):
        key = _run_id(repo, ctx, run if run is not None else ctx.run_id)  # a run's tags (the running one's)
    elif artifact is not None:
        if version_given:
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
    raise UserError(f"{call}() outside a step needs a target: pass artifact_name= and artifact_version=, "
                    "artifact_version_id=, or infer_artifact=True inside a step")


def _running_step(call: str):
    ctx = _step_context()
    if ctx is None:
        raise UserError(f"{call} works only inside a running step; outside one, pass artifact_name= and "
                        "artifact_version=, or artifact_version_id=")
    return ctx
