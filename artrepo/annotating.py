"""Metadata and tags added after the fact, by ZenML's calls: `log_metadata`, `log_artifact_metadata`,
`add_tags`, `remove_tags`, on artifact versions, artifacts, runs and step runs.

    log_metadata({"accuracy": 0.93}, artifact_name="my_model", artifact_version="3")
    add_tags(["approved"], artifact_name="iris_dataset", artifact_version="raw_2023")

Inside a step, what targets the running step, its outputs or its run is
collected by the step context and recorded with them; anything else is an
annotation (append-only, docs/format.md §7), pushed and pulled like versions.
"""
from __future__ import annotations

from artrepo.errors import UserError
from artrepo.repository import Repository
from artrepo.runtime.context import current_step
from artrepo.tags import artifact_key, tag_names, validated_tags
from artrepo.values import validate_metadata
from artrepo.workdir import active_repository


def log_artifact_metadata(metadata: dict, artifact_name: str | None = None,
                          artifact_version: str | int | None = None, version: str | int | None = None) -> None:
    """Attach metadata: inside a step to its output, outside to a saved version (latest by default)."""
    artifact_version = artifact_version if artifact_version is not None else version
    metadata = validate_metadata(metadata)
    ctx = current_step()
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
    ctx = current_step()
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
    from artrepo.queries import get_run

    run = get_run(repo, name_id_or_prefix)
    if step_name is not None and step_name not in run.record.steps:
        raise UserError(f"run {run.id[:12]} ({run.name}) has no step {step_name!r} "
                        f"(steps: {', '.join(run.record.steps)})")
    return run.id


def _log_on_step_id(ctx, step_id: str, metadata: dict) -> None:
    """`log_metadata(step_id=)`: the running step, or a recorded step run found by its id (or a prefix)."""
    from artrepo.models import step_run_id
    from artrepo.queries import list_runs

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
    ctx = current_step()
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
        name = str(artifact)
        if not repo.versions(name):
            repo.latest(name)  # the NotFoundError, with a suggestion
        key = artifact_key(name)
    else:
        key = _version_target(repo, call, artifact_version_id, artifact_name, artifact_version).id
    annotate_tags(repo, key, added, removed)


def annotate_tags(repo: Repository, key: str, added, removed) -> None:
    added, removed = validated_tags(added), validated_tags(removed)
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
    ctx = current_step()
    if ctx is None:
        raise UserError(f"{call} works only inside a running step; outside one, pass artifact_name= and "
                        "artifact_version=, or artifact_version_id=")
    return ctx
